package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/report"
)

func init() { commands = append(commands, newReportCmd) }

func newReportCmd() *cobra.Command {
	var o report.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "Write a run's HTML report (report.html, self-contained) and its data (report.json)",
		Long: "Writes RUN/report.html, one file with inline CSS and SVG that makes no network request\n" +
			"and opens from disk: the top values of each field with counts and shares, the values as a\n" +
			"collapsible tree (on the paper's taxonomy with --tree values_tree.csv), response-type and\n" +
			"metadata distributions, heatmaps of adjusted residuals of the top values against each\n" +
			"context (significant cells marked), with --compare the side-by-side distributions and\n" +
			"largest significant differences, the run manifest and what the privacy floor hid.\n" +
			"Every number shown is in RUN/report.json, written beside it (and embedded in the page).",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			d, err := report.Build(cmd.Context(), a[0], o)
			if err != nil {
				return err
			}
			if err := report.Write(a[0], d); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(a[0], report.HTMLFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Compare, "compare", nil, "compare with these run folders (each against RUN)")
	f.StringVar(&o.Tree, "tree", "", "reference taxonomy in the layout of the paper's values_tree.csv")
	f.StringVar(&o.TreeField, "tree-field", "", "field placed on --tree (default ai_values, or the first item field)")
	f.IntVar(&o.Top, "top", 20, "values per chart and heatmap")
	f.IntVar(&o.MaxContexts, "max-contexts", 30, "contexts per heatmap (the most frequent)")
	f.BoolVar(&asJSON, "json", false, "also print the report's data as JSON")
	return cmd
}
