package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
)

func init() { commands = append(commands, newCompareCmd) }

func newCompareCmd() *cobra.Command {
	var o compare.FolderOptions
	var tf treeFlags
	var correction string
	var fields, userKeys []string
	var asJSON, continuity bool
	var show, exactBelow int
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B [RUN...]",
		Short: "Compare runs: per-value differences, divergence, rank correlation and agreement",
		Long: "Compares each field the runs share, on normalised value names: the share of annotated\n" +
			"conversations with each value in each run, the difference with its confidence interval\n" +
			"(Newcombe) and a corrected two-proportion test; the Jensen-Shannon divergence and the\n" +
			"Spearman rank correlation of the top-N values; and, on the conversations the runs share\n" +
			"(same source, id and content: same data, another prompt or model), agreement per conversation —\n" +
			"Jaccard of value sets, Cohen's kappa for labels — with the conversations that disagree\n" +
			"most. More than two runs: each against the first. --out writes compare.json,\n" +
			"differences.csv, fields.csv (the tests used per field) and disagreements.csv.\n\n" +
			"Runs that share conversations (same source, id and content) are not independent samples:\n" +
			"their values are tested paired on the shared conversations — McNemar's test per value\n" +
			"(continuity-corrected as R's mcnemar.test; --continuity=false without), its exact\n" +
			"binomial version when fewer than --exact-below conversations differ, Newcombe's paired\n" +
			"interval, and Bowker's symmetry test for a label field. A run over a subset of\n" +
			"another's conversations, or a partial overlap, is warned about, with how many\n" +
			"conversations the paired tests leave out. Disjoint runs: independent samples.\n\n" +
			"--tree TREE.csv compares the values of --tree-field (ai_values) on level --tree-level of\n" +
			"one shared taxonomy (the paper's values_tree.csv, or a tree from taxonomy build): every\n" +
			"run's values are placed on the same tree, as in analyze --tree, and values left unplaced\n" +
			"are counted per run (and in taxonomy.json with --out).",
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Correction = analysis.Correction(correction)
			o.Fields = fields
			o.UserKeys = userKeys
			if o.List == 0 {
				o.List = -1 // --list 0: none
			}
			if exactBelow < 0 {
				return usageError{fmt.Errorf("--exact-below takes 0 (never exact) or a positive number")}
			}
			o.ExactBelow = exactBelow
			if exactBelow == 0 {
				o.ExactBelow = -1 // --exact-below 0: never
			}
			o.NoContinuity = !continuity
			tm, tmap, err := tf.mapper(cmd, a)
			if err != nil {
				return err
			}
			if tm != nil {
				o.Mapper = tm
			}
			rep, err := compare.Folders(cmd.Context(), a, o)
			if analysis.IsOptionsError(err) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if tm != nil && tm.Err() != nil {
				return tm.Err()
			}
			if o.Out != "" && tmap != nil {
				if _, err := tmap.writeFiles(o.Out); err != nil {
					return err
				}
			}
			if asJSON {
				if tmap != nil {
					tmap.write(cmd.ErrOrStderr())
				}
				// The text output states the warnings; JSON on stdout
				// is for a program, so a reader sees them here.
				for _, p := range rep.Pairs {
					if p.Sharing.Warning != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s vs %s: %s\n", p.A, p.B, p.Sharing.Warning)
					}
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
			if o.Out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "\nwritten: %s\n", filepath.Join(o.Out, "{compare.json,differences.csv,fields.csv,disagreements.csv}"))
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
	f.BoolVar(&continuity, "continuity", true, "McNemar's test of paired values with continuity correction (R's mcnemar.test default)")
	f.IntVar(&exactBelow, "exact-below", 25, "paired values with fewer discordant conversations take the exact binomial test (0: never)")
	f.IntVar(&show, "show", 15, "values shown per field in the text output")
	f.StringSliceVar(&fields, "fields", nil, "compare only these fields")
	f.IntVar(&o.Floor.MinConversations, "min-conversations", analysis.DefaultFloor.MinConversations, "privacy floor: distinct conversations a value needs to be reported")
	f.IntVar(&o.Floor.MinUsers, "min-users", analysis.DefaultFloor.MinUsers, "privacy floor: distinct users, where the data names users")
	f.StringSliceVar(&userKeys, "user-keys", analysis.DefaultUserKeys, "metadata keys naming a conversation's user")
	f.StringVar(&o.Out, "out", "", "folder to write compare.json, differences.csv, fields.csv and disagreements.csv")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
