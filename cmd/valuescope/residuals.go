package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
)

func init() { commands = append(commands, newResidualsCmd) }

// statFlags are the significance flags residuals and analyze share.
type statFlags struct {
	alpha      float64
	correction string
	family     string
	tests      int
	top        int
	method     string
}

func (f *statFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.alpha, "alpha", 0.05, "significance level (two-sided)")
	fl.StringVar(&f.correction, "correction", "bonferroni", "multiple-testing correction: bonferroni, holm, bh or none")
	fl.StringVar(&f.family, "family", "context", "tests corrected together: context (one family per column) or table")
	fl.IntVar(&f.tests, "tests", 0, "stated number of tests per family (0: the family's size; the paper: 3307)")
	fl.IntVar(&f.top, "top", 10, "positive and negative associations listed per context")
	fl.StringVar(&f.method, "method", string(analysis.DefaultMethod), "per-cell test behind significance: exact (Fisher, cell against the rest of its row and column) or normal (the residual's normal approximation)")
}

func (f *statFlags) options() (analysis.Options, error) {
	o := analysis.Options{Alpha: f.alpha, Tests: f.tests, Top: f.top}
	var err error
	if o.Correction, err = analysis.ParseCorrection(f.correction); err != nil {
		return o, usageError{err}
	}
	if o.Family, err = analysis.ParseFamily(f.family); err != nil {
		return o, usageError{err}
	}
	if o.Method, err = analysis.ParseMethod(f.method); err != nil {
		return o, usageError{err}
	}
	if f.alpha <= 0 || f.alpha >= 1 {
		return o, usage("--alpha %v is not between 0 and 1", f.alpha)
	}
	if f.tests < 0 {
		return o, usage("--tests takes a positive number")
	}
	if f.top <= 0 {
		o.Top = -1
	}
	return o, nil
}

type residualsOutput struct {
	Input string `json:"input"`
	analysis.Summary
	Contexts []analysis.Context `json:"contexts"`
	Out      string             `json:"out,omitempty"`
}

func newResidualsCmd() *cobra.Command {
	var sf statFlags
	var out string
	var asJSON bool
	var minCount int
	cmd := &cobra.Command{
		Use:   "residuals [TABLE.csv]",
		Short: "Adjusted Pearson residuals, chi-square test and significant associations of a table of counts",
		Long: "Reads a plain table of counts (CSV: first column the row labels, header the column\n" +
			"labels) and reports the chi-square test, Cramér's V, the significance threshold and the\n" +
			"top positive and negative associations of each column; --out writes the adjusted\n" +
			"residuals (equal to R's chisq.test(x)$stdres) in the input's shape and labels, NA in\n" +
			"empty rows and columns (which are left out of the test).\n\n" +
			"Without a table, prints the Bonferroni threshold for --tests (the paper's 3307 values:\n" +
			"valuescope residuals --tests 3307 gives 4.33).",
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o, err := sf.options()
			if err != nil {
				return err
			}
			if minCount < 0 {
				return usage("--min-count takes a positive number")
			}
			o.Floor = analysis.Floor{MinConversations: minCount}
			if len(a) == 0 {
				if sf.tests == 0 {
					return usage("give a TABLE.csv, or --tests N for the Bonferroni threshold alone")
				}
				thr := analysis.BonferroniThreshold(o.Alpha, sf.tests)
				if asJSON {
					return printJSON(cmd, map[string]any{"alpha": o.Alpha, "tests": sf.tests, "bonferroni_threshold": analysis.Number(thr)})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Bonferroni threshold |r| >= %.2f (alpha %g two-sided over %d tests: qnorm(1 - %g/(2*%d)) = %.6f)\n",
					thr, o.Alpha, sf.tests, o.Alpha, sf.tests, thr)
				return nil
			}
			t, err := analysis.ReadCSVFile(a[0])
			if err != nil {
				return err
			}
			res, err := analysis.Analyze(t, o)
			if err != nil {
				return usageError{err}
			}
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				err = analysis.WriteResidualsCSV(f, res, true)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("writing %s: %w", out, err)
				}
			}
			if asJSON {
				return printJSON(cmd, residualsOutput{Input: a[0], Summary: res.Summary, Contexts: res.Contexts, Out: out})
			}
			if err := analysis.WriteText(cmd.OutOrStdout(), a[0], res.Summary, res.Contexts); err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "\nadjusted residuals written to %s\n", out)
			}
			return nil
		},
	}
	sf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write the adjusted residuals as CSV, in the input's shape and labels")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.IntVar(&minCount, "min-count", 0, "privacy floor: cells with a count under this are not reported (left empty in --out)")
	return cmd
}
