package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/share"
)

func init() { commands = append(commands, newExportCmd) }

func newExportCmd() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export RUN --shareable DIR",
		Short: "Copy the files of a run that may be published into a new folder, with a README of the privacy floor",
		Long: "Writes into DIR (new, or empty, and outside RUN) only the run's shareable files: the report\n" +
			"(report.json, report.html), the analysis tables (analysis/NAME.cells.csv, .residuals.csv,\n" +
			".json) and the taxonomy trees (taxonomy/FIELD.tree.csv, without the values under the\n" +
			"privacy floor), and DIR/README.md saying which floor was applied and how. The store, the\n" +
			"annotations and conversations, errors, logs, review sheets, assignments, configs and the\n" +
			"manifest are private and never copied. Run analyze and report first: the files are\n" +
			"copied as they are.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if out == "" {
				return usage("give --shareable DIR")
			}
			s, err := share.Export(cmd.Context(), a[0], out)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, s)
			}
			for _, f := range s.Files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			for f, why := range s.Skipped {
				fmt.Fprintf(cmd.OutOrStdout(), "not exported: %s: %s\n", f, why)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d shareable files written to %s\n", len(s.Files), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "shareable", "", "folder to write the shareable files into")
	f.BoolVar(&asJSON, "json", false, "print what was written as JSON")
	return cmd
}
