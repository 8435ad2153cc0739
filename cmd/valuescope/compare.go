package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

func init() { commands = append(commands, newCompareCmd) }

func newCompareCmd() *cobra.Command {
	var o compare.Options
	var tf treeFlags
	var correction, out string
	var fields, userKeys []string
	var asJSON bool
	var show int
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B [RUN...]",
		Short: "Compare runs: per-value differences, divergence, rank correlation and agreement",
		Long: "Compares each field the runs share, on normalised value names: the share of annotated\n" +
			"conversations with each value in each run, the difference with its confidence interval\n" +
			"(Newcombe) and a corrected two-proportion test; the Jensen-Shannon divergence and the\n" +
			"Spearman rank correlation of the top-N values; and, on the conversations the runs share\n" +
			"(same id and content: same data, another prompt or model), agreement per conversation —\n" +
			"Jaccard of value sets, Cohen's kappa for labels — with the conversations that disagree\n" +
			"most. More than two runs: each against the first. --out writes compare.json,\n" +
			"differences.csv and disagreements.csv.\n\n" +
			"--tree TREE.csv compares the values of --tree-field (ai_values) on level --tree-level of\n" +
			"one shared taxonomy (the paper's values_tree.csv, or a tree from taxonomy build): every\n" +
			"run's values are placed on the same tree, as in analyze --tree, and values left unplaced\n" +
			"are counted per run (and in taxonomy.json with --out).",
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := analysis.ParseCorrection(correction)
			if err != nil {
				return usageError{err}
			}
			o.Correction = c
			o.Fields = fields
			if o.Alpha <= 0 || o.Alpha >= 1 || o.Level <= 0 || o.Level >= 1 {
				return usage("--alpha and --level are between 0 and 1")
			}
			if o.Tests < 0 || o.Floor.MinConversations < 0 || o.Floor.MinUsers < 0 {
				return usage("--tests, --min-conversations and --min-users take positive numbers")
			}
			if o.List == 0 {
				o.List = -1
			}
			if o.TopN <= 0 {
				return usage("--top-n takes a positive number")
			}
			for _, d := range a {
				if _, err := analysis.StorePath(d); err != nil {
					return err
				}
			}
			tm, tmap, err := tf.mapper(cmd, a)
			if err != nil {
				return err
			}
			if tm != nil {
				o.Mapper = tm
			}
			rep, err := compare.Runs(cmd.Context(), a, analysis.LoadOptions{UserKeys: userKeys}, o)
			if err != nil {
				return err
			}
			if tm != nil && tm.Err() != nil {
				return tm.Err()
			}
			if out != "" {
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				for name, write := range map[string]func(io.Writer) error{
					"compare.json": func(w io.Writer) error {
						enc := json.NewEncoder(w)
						enc.SetIndent("", "  ")
						return enc.Encode(rep)
					},
					"differences.csv":   func(w io.Writer) error { return compare.WriteDiffsCSV(w, rep) },
					"disagreements.csv": func(w io.Writer) error { return compare.WriteAgreementCSV(w, rep) },
				} {
					if err := atomicfile.Write(filepath.Join(out, name), write); err != nil {
						return err
					}
				}
				if tmap != nil {
					if _, err := tmap.writeFiles(out); err != nil {
						return err
					}
				}
			}
			if asJSON {
				if tmap != nil {
					tmap.write(cmd.ErrOrStderr())
				}
				return printJSON(cmd, rep)
			}
			if tmap != nil {
				tmap.write(cmd.OutOrStdout())
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if err := compare.WriteText(cmd.OutOrStdout(), rep, show); err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "\nwritten: %s\n", filepath.Join(out, "{compare.json,differences.csv,disagreements.csv}"))
			}
			return nil
		},
	}
	tf.register(cmd)
	f := cmd.Flags()
	f.Float64Var(&o.Alpha, "alpha", 0.05, "significance level of the per-value tests")
	f.Float64Var(&o.Level, "level", 0.95, "confidence level of the intervals")
	f.StringVar(&correction, "correction", "bonferroni", "multiple-testing correction over a field's values: bonferroni, holm, bh or none")
	f.IntVar(&o.Tests, "tests", 0, "stated number of tests per field (0: the values compared)")
	f.IntVar(&o.TopN, "top-n", 20, "values of each run ranked for the Spearman correlation")
	f.IntVar(&o.List, "list", 10, "disagreeing conversations listed per field (0: none)")
	f.IntVar(&show, "show", 15, "values shown per field in the text output")
	f.StringSliceVar(&fields, "fields", nil, "compare only these fields")
	f.IntVar(&o.Floor.MinConversations, "min-conversations", analysis.DefaultFloor.MinConversations, "privacy floor: distinct conversations a value needs to be reported")
	f.IntVar(&o.Floor.MinUsers, "min-users", analysis.DefaultFloor.MinUsers, "privacy floor: distinct users, where the data names users")
	f.StringSliceVar(&userKeys, "user-keys", analysis.DefaultUserKeys, "metadata keys naming a conversation's user")
	f.StringVar(&out, "out", "", "folder to write compare.json, differences.csv and disagreements.csv")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
