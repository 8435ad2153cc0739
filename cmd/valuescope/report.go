package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/taxonomy"
)

func init() { commands = append(commands, newReportCmd) }

func newReportCmd() *cobra.Command {
	var o report.Options
	var vectors string
	var threshold float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "Write a run's HTML report (report.html, self-contained) and its data (report.json)",
		Long: "Writes RUN/report.html, one file with inline CSS and SVG that makes no network request\n" +
			"and opens from disk: the top values of each field with counts and shares, the values as a\n" +
			"collapsible taxonomy tree, response-type and metadata distributions, heatmaps of adjusted\n" +
			"residuals of the top values against each context (significant cells marked), with\n" +
			"--compare the side-by-side distributions and largest significant differences, the run\n" +
			"manifest and what the privacy floor hid. Every number shown is in RUN/report.json,\n" +
			"written beside it (and embedded in the page).\n\n" +
			"The tree is the run's own taxonomy of --tree-field: RUN/taxonomy/FIELD.tree.csv (the\n" +
			"paper's values_tree.csv layout) when that file is newer than the run's store, else one\n" +
			"clustered from the field's values and written there — the tree `taxonomy build RUN\n" +
			"--field FIELD` makes — when the field has 20 to 20,000 distinct values (otherwise the\n" +
			"values are listed flat and the page says why). --tree places the values on a reference\n" +
			"taxonomy such as the paper's instead: each on the tree value of the same normalised name,\n" +
			"else on the nearest by embedding (offline, or --vectors), else, under --threshold, under\n" +
			"\"unassigned\". --flat lists each field's values without a taxonomy.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.Flat && o.Tree != "" {
				return usage("--flat and --tree: give one")
			}
			if threshold < -1 || threshold > 1 {
				return usage("--threshold %v: a cosine similarity, between -1 and 1", threshold)
			}
			o.Threshold = &threshold
			if vectors != "" {
				e, err := embedder(vectors)
				if err != nil {
					return err
				}
				o.Embedder = e
			}
			d, err := report.Build(cmd.Context(), a[0], o)
			if err != nil {
				return err
			}
			if err := report.Write(a[0], d); err != nil {
				return err
			}
			if asJSON {
				writeTaxonomy(cmd.ErrOrStderr(), d.Taxonomy)
				return printJSON(cmd, d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(a[0], report.HTMLFile))
			writeTaxonomy(cmd.OutOrStdout(), d.Taxonomy)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Compare, "compare", nil, "compare with these run folders (each against RUN)")
	f.StringVar(&o.Tree, "tree", "", "reference taxonomy in the layout of the paper's values_tree.csv (or JSON) instead of the run's own")
	f.StringVar(&o.TreeField, "tree-field", "", "field placed on the taxonomy (default ai_values, or the first item field)")
	f.BoolVar(&o.Flat, "flat", false, "list each field's values instead of a taxonomy (do not build the run's own)")
	f.Float64Var(&threshold, "threshold", taxonomy.DefaultThreshold, "cosine similarity to the nearest tree value under which a value is left unassigned")
	f.StringVar(&vectors, "vectors", "", "word vectors in GloVe or word2vec text format instead of the built-in ones (to build the run's taxonomy and place values; a tree the report reuses keeps the vectors it was built with: delete RUN/taxonomy/FIELD.tree.csv to rebuild)")
	f.IntVar(&o.Top, "top", 20, "values per chart and heatmap")
	f.IntVar(&o.MaxContexts, "max-contexts", 30, "contexts per heatmap (the most frequent)")
	f.BoolVar(&asJSON, "json", false, "also print the report's data as JSON")
	return cmd
}

// writeTaxonomy says what the report's tree is, when it is a taxonomy or
// there is a reason it is not.
func writeTaxonomy(w io.Writer, t *report.TreeInfo) {
	if t != nil && (t.Source != report.TreeFlat || t.Note != "") {
		fmt.Fprintf(w, "taxonomy: %s\n", t.Summary())
	}
}
