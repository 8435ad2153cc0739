package main

import (
	"fmt"
	"os"
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
	var paper string
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B [RUN...] | compare RUN --paper[=DIR]",
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
			"are counted per run (and in taxonomy.json with --out).\n\n" +
			"--paper[=DIR] sets each run beside the paper itself (DIR holds its values_tree.csv and\n" +
			"values_frequencies.csv; without DIR, $VALUESCOPE_SHARED_DATA/values-in-the-wild or\n" +
			"../shared/data/values-in-the-wild): the values of --tree-field placed on the paper's tree,\n" +
			"the run's top-level and level-2 clusters' shares of value occurrences beside the paper's\n" +
			"pct_total_occurrences, and its top values' shares of the conversations with a value beside\n" +
			"the paper's pct_convos, with intervals (by user when the run names users). Clusters under the\n" +
			"privacy floor are blank, with complementary ones so that none follows by subtraction. One run\n" +
			"is enough; the flags of run-to-run comparison (--out, --fields, --tree-level...) are refused.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if paper != "" {
				return comparePaper(cmd, a, paper, tf, compare.PaperOptions{Floor: o.Floor, UserKeys: userKeys, Level: o.Level, Top: show}, asJSON)
			}
			if len(a) < 2 {
				return usage("compare needs at least 2 runs, or one with --paper")
			}
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
	f.StringVar(&paper, "paper", "", "compare each run with the paper's published numbers, read from DIR (see above)")
	f.Lookup("paper").NoOptDefVal = paperDefault
	return cmd
}

// paperDefault is --paper without a folder: the shared data's copy.
const paperDefault = "shared"

// comparePaper is compare --paper: each run beside the paper.
func comparePaper(cmd *cobra.Command, runs []string, dir string, tf treeFlags, po compare.PaperOptions, asJSON bool) error {
	if tf.path != "" {
		return usage("--paper places the values on the paper's tree: it takes no --tree")
	}
	// The flags of run-to-run comparison do nothing here: refused, not
	// silently ignored.
	for _, n := range []string{"out", "fields", "tree-level", "correction", "alpha", "tests", "top-n", "list", "continuity", "exact-below"} {
		if cmd.Flags().Changed(n) {
			return usage("--paper takes no --%s (it compares one field, --tree-field, on the paper's top two levels, and writes to stdout)", n)
		}
	}
	if dir == paperDefault {
		base := os.Getenv("VALUESCOPE_SHARED_DATA")
		if base == "" {
			base = filepath.Join("..", "shared", "data")
		}
		dir = filepath.Join(base, "values-in-the-wild")
	}
	p, err := compare.ReadPaper(dir)
	if err != nil {
		return fmt.Errorf("--paper %s: %w (give the folder of the paper's values_tree.csv and values_frequencies.csv: --paper=DIR)", dir, err)
	}
	e, err := embedder(tf.vectors)
	if err != nil {
		return err
	}
	var reps []*compare.PaperReport
	for _, run := range runs {
		po.Field, po.Embedder, po.Threshold = tf.field, e, tf.threshold
		rep, err := compare.ComparePaper(cmd.Context(), run, p, po)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	if asJSON {
		return printJSON(cmd, reps)
	}
	for k, rep := range reps {
		if k > 0 {
			fmt.Fprintln(cmd.OutOrStdout())
		}
		if err := compare.WritePaperText(cmd.OutOrStdout(), rep); err != nil {
			return err
		}
	}
	return nil
}
