package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/review"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

func init() { commands = append(commands, newReviewCmd) }

func newReviewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Human validation: sample a run for review, then score the judgements",
	}
	cmd.AddCommand(newReviewSampleCmd(), newReviewScoreCmd())
	return cmd
}

func newReviewSampleCmd() *cobra.Command {
	var o review.SampleOptions
	var out string
	var noHTML bool
	cmd := &cobra.Command{
		Use:   "sample RUN",
		Short: "Write a review sheet (CSV) and a page to read each conversation beside its annotations (HTML)",
		Long: "Draws --n conversations, stratified by --stratify (a label field such as response_type, a\n" +
			"metadata key such as model, or source: proportional allocation, at least one per stratum),\n" +
			"and writes OUT/review.csv — one line per annotation, with an empty judgement column to fill\n" +
			"with yes/no — and OUT/review.html, each conversation's turns (read from the run's dataset)\n" +
			"beside its numbered lines. OUT defaults to RUN/review. Score with valuescope review score.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.N <= 0 {
				return usage("--n takes a positive number")
			}
			run, err := analysis.OpenRun(cmd.Context(), a[0], analysis.LoadOptions{Attrs: true})
			if err != nil {
				return err
			}
			sh, err := review.Sample(cmd.Context(), run, o)
			if err != nil {
				return usageError{err}
			}
			if out == "" {
				out = filepath.Join(a[0], "review")
			}
			if err := mkdirAll(out); err != nil {
				return err
			}
			csvPath := filepath.Join(out, "review.csv")
			if err := atomicfile.Write(csvPath, sh.WriteCSV); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d conversations, %d lines to judge: %s\n", len(sh.Conversations), len(sh.Lines), csvPath)
			for _, s := range sh.Strata {
				fmt.Fprintf(w, "  %-24s %d of %d\n", s.Name, s.Sampled, s.Population)
			}
			if noHTML {
				return nil
			}
			texts, warnings, err := sh.Texts(cmd.Context())
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v; the page shows annotations only\n", err)
			}
			for _, wn := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", wn)
			}
			htmlPath := filepath.Join(out, "review.html")
			if err := atomicfile.Write(htmlPath, func(w io.Writer) error { return sh.WriteHTML(w, texts) }); err != nil {
				return err
			}
			fmt.Fprintf(w, "page to read them: %s\n", htmlPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.N, "n", 200, "conversations to sample")
	f.StringVar(&o.Stratify, "stratify", "", "stratify by a label field, a metadata key (meta.KEY) or source")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed (the same seed gives the same sheet)")
	f.StringSliceVar(&o.Fields, "fields", nil, "fields to review (default: all)")
	f.StringVar(&out, "out", "", "folder for review.csv and review.html (default RUN/review)")
	f.BoolVar(&noHTML, "no-html", false, "write the CSV sheet only")
	return cmd
}

func newReviewScoreCmd() *cobra.Command {
	var asJSON bool
	var level float64
	cmd := &cobra.Command{
		Use:   "score RUN SHEET",
		Short: "Read a review sheet's judgements back: agreement per field with a Wilson interval",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if level <= 0 || level >= 1 {
				return usage("--level is between 0 and 1")
			}
			run, err := analysis.LoadRun(cmd.Context(), a[0], analysis.LoadOptions{})
			if err != nil {
				return err
			}
			sc, err := review.ScoreFile(run, a[1], level)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, sc)
			}
			return sc.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the score as JSON")
	cmd.Flags().Float64Var(&level, "level", 0.95, "confidence level of the Wilson interval")
	return cmd
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
