package compare

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
)

// WriteText writes a report for reading: per pair and field, the divergence,
// the show most different values, and the agreement with the conversations
// that disagree most.
func WriteText(w io.Writer, rep *Report, show int) error {
	bw := bufio.NewWriter(w)
	pct := func(x analysis.Number) string { return fmt.Sprintf("%.1f%%", 100*float64(x)) }
	for k, p := range rep.Pairs {
		if k > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "A: %s (%d conversations)\nB: %s (%d conversations)\n", p.A, rep.Runs[0].Conversations, p.B, rep.Runs[k+1].Conversations)
		fmt.Fprintf(bw, "shared conversations (same source, id and content): %d (%s)\n", p.Shared, sharingText(p.Sharing))
		if p.Sharing.Warning != "" {
			fmt.Fprintf(bw, "WARNING: %s\n", p.Sharing.Warning)
		}
		if len(p.OnlyA) > 0 {
			fmt.Fprintf(bw, "fields only in A: %s\n", strings.Join(p.OnlyA, ", "))
		}
		if len(p.OnlyB) > 0 {
			fmt.Fprintf(bw, "fields only in B: %s\n", strings.Join(p.OnlyB, ", "))
		}
		for _, f := range p.Fields {
			kind := "items"
			if f.Label {
				kind = "label"
			}
			fmt.Fprintf(bw, "\n%s (%s; annotated: A %d, B %d; %d values)\n", f.Field, kind, f.NA, f.NB, f.Compared)
			fmt.Fprintf(bw, "  Jensen-Shannon divergence %.4f bits; Spearman rank correlation of the top %d (%d values) %.3f\n",
				float64(f.JSD), rep.TopN, f.SpearmanN, float64(f.Spearman))
			fmt.Fprintf(bw, "  differences in share (B - A), %s, %s over %d tests at alpha %g: %d significant",
				testsText(rep, f), rep.Correction, f.Tests, rep.Alpha, f.Significant)
			if f.Suppressed.Values > 0 {
				fmt.Fprintf(bw, "; privacy floor suppressed %d values (%d significant)", f.Suppressed.Values, f.Suppressed.Significant)
			}
			fmt.Fprintln(bw)
			if len(f.Values) > 0 && show > 0 {
				fmt.Fprintf(bw, "    %-34s %7s %7s %8s  %-19s %9s\n", "value", "A", "B", "diff", fmt.Sprintf("%g%% CI", 100*rep.Level), "p_adj")
				for _, v := range f.Values[:min(show, len(f.Values))] {
					mark := ""
					if v.Significant {
						mark = " *"
					}
					fmt.Fprintf(bw, "    %-34s %7s %7s %+7.1f%%  [%+6.1f%%, %+6.1f%%] %9.3g%s\n", v.Value, pct(v.ShareA), pct(v.ShareB),
						100*float64(v.Diff), 100*float64(v.CI.Low), 100*float64(v.CI.High), float64(v.PAdjusted), mark)
				}
				if len(f.Values) > show {
					fmt.Fprintf(bw, "    ... %d more (--json or --out for all)\n", len(f.Values)-show)
				}
			}
			if s := f.Symmetry; s != nil {
				fmt.Fprintf(bw, "  labels paired on %d shared conversations (%d labels): ", s.Conversations, s.Labels)
				if s.Test == TestNoDiscordant {
					fmt.Fprintln(bw, "no conversation changed label, nothing to test")
				} else {
					fmt.Fprintf(bw, "%s chi-squared %.4g, df %d, p %.3g", testName(s.Test), float64(s.Statistic), s.DF, float64(s.P))
					if s.Dropped > 0 {
						fmt.Fprintf(bw, " (%d label pairs without a change either way left out of the df)", s.Dropped)
					}
					fmt.Fprintln(bw)
				}
			}
			ag := f.Agreement
			if ag == nil {
				continue
			}
			if f.Label {
				fmt.Fprintf(bw, "  agreement on %d shared conversations: %s (%g%% Wilson %s to %s), Cohen's kappa %.3f\n",
					ag.Conversations, pct(ag.Observed), 100*rep.Level, pct(ag.ObservedCI.Low), pct(ag.ObservedCI.High), float64(ag.Kappa))
			} else {
				fmt.Fprintf(bw, "  agreement on %d shared conversations: mean Jaccard %.3f, identical sets %d (%s)\n",
					ag.Conversations, float64(ag.MeanJaccard), ag.Identical, pct(ag.Observed))
			}
			if len(ag.Disagreements) > 0 {
				fmt.Fprintln(bw, "  disagree most:")
				for _, d := range ag.Disagreements {
					fmt.Fprintf(bw, "    %s (J = %.2f)\n      A: %s\n      B: %s\n", d.ID, float64(d.Jaccard), list(d.A), list(d.B))
				}
			}
		}
	}
	return bw.Flush()
}

// sharingText says what the overlap of two runs means for the tests.
func sharingText(s Sharing) string {
	switch s.Kind {
	case Disjoint:
		return "disjoint: independent samples"
	case Same:
		return "the same conversations: paired tests"
	case ASubset:
		return "A is a subset of B: paired tests on the shared conversations"
	case BSubset:
		return "B is a subset of A: paired tests on the shared conversations"
	}
	return fmt.Sprintf("partial overlap, %d in A only and %d in B only: paired tests on the shared conversations", s.OnlyA+s.Changed, s.OnlyB+s.Changed)
}

// testsText names a field's per-value tests and what they are on.
func testsText(rep *Report, f *Fields) string {
	if f.Test != Paired {
		return fmt.Sprintf("independent samples (two-proportion z-test, Newcombe interval) on %d and %d conversations", f.NA, f.NB)
	}
	t := "McNemar with continuity correction"
	if !rep.Continuity {
		t = "McNemar without continuity correction"
	}
	if rep.ExactBelow > 0 {
		t += fmt.Sprintf(", exact binomial when fewer than %d conversations differ", rep.ExactBelow)
	}
	t += "; Newcombe paired interval"
	if f.LeftOutA+f.LeftOutB > 0 {
		t += fmt.Sprintf("; left out, without a pair: %d of A, %d of B", f.LeftOutA, f.LeftOutB)
	}
	return fmt.Sprintf("paired on %d shared conversations (%s)", f.Paired, t)
}

// testName is a test's name for reading.
func testName(t string) string {
	switch t {
	case TestMcNemar:
		return "McNemar (continuity-corrected)"
	case TestMcNemarPlain:
		return "McNemar"
	case TestBowker:
		return "Bowker symmetry"
	}
	return t
}

func list(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	return strings.Join(vs, "; ")
}

// DiffColumns are the columns of WriteDiffsCSV.
var DiffColumns = []string{"a", "b", "field", "value", "count_a", "count_b", "share_a", "share_b", "diff", "ci_low", "ci_high", "z", "p", "p_adjusted", "significant",
	"test", "n", "statistic", "both", "a_only", "b_only", "neither"}

// WriteDiffsCSV writes every reported per-value difference, one per line:
// the test used, on how many conversations, and, when paired, its 2×2
// table (empty when the runs were independent samples).
func WriteDiffsCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	cw.Write(DiffColumns)
	f := analysis.FormatFloat
	for _, p := range rep.Pairs {
		for _, fc := range p.Fields {
			for _, v := range fc.Values {
				row := []string{p.A, p.B, fc.Field, v.Value, strconv.Itoa(v.CountA), strconv.Itoa(v.CountB),
					f(float64(v.ShareA)), f(float64(v.ShareB)), f(float64(v.Diff)), f(float64(v.CI.Low)), f(float64(v.CI.High)),
					f(float64(v.Z)), f(float64(v.P)), f(float64(v.PAdjusted)), strconv.FormatBool(v.Significant)}
				row = append(row, v.Test, strconv.Itoa(v.N), f(float64(v.Statistic)))
				if pc := v.Pairs; pc != nil {
					row = append(row, strconv.Itoa(pc.Both), strconv.Itoa(pc.AOnly), strconv.Itoa(pc.BOnly), strconv.Itoa(pc.Neither))
				} else {
					row = append(row, "", "", "", "")
				}
				cw.Write(row)
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// FieldColumns are the columns of WriteFieldsCSV.
var FieldColumns = []string{"a", "b", "sharing", "shared", "field", "test", "paired_conversations", "left_out_a", "left_out_b",
	"annotated_a", "annotated_b", "values_compared", "significant", "symmetry_test", "symmetry_conversations",
	"symmetry_statistic", "symmetry_df", "symmetry_p"}

// WriteFieldsCSV writes one line per pair and field: how the runs share
// conversations, how the field's values were tested and on how many, and,
// for a label field tested paired, Bowker's symmetry test.
func WriteFieldsCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	cw.Write(FieldColumns)
	for _, p := range rep.Pairs {
		for _, fc := range p.Fields {
			row := []string{p.A, p.B, p.Sharing.Kind, strconv.Itoa(p.Shared), fc.Field, fc.Test, strconv.Itoa(fc.Paired),
				strconv.Itoa(fc.LeftOutA), strconv.Itoa(fc.LeftOutB), strconv.Itoa(fc.NA), strconv.Itoa(fc.NB),
				strconv.Itoa(fc.Compared), strconv.Itoa(fc.Significant)}
			if s := fc.Symmetry; s != nil {
				row = append(row, s.Test, strconv.Itoa(s.Conversations), analysis.FormatFloat(float64(s.Statistic)),
					strconv.Itoa(s.DF), analysis.FormatFloat(float64(s.P)))
			} else {
				row = append(row, "", "", "", "", "")
			}
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}

// AgreementColumns are the columns of WriteAgreementCSV.
var AgreementColumns = []string{"a", "b", "field", "conversation_id", "source", "jaccard", "values_a", "values_b"}

// WriteAgreementCSV writes the listed disagreeing conversations.
func WriteAgreementCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	cw.Write(AgreementColumns)
	for _, p := range rep.Pairs {
		for _, fc := range p.Fields {
			if fc.Agreement == nil {
				continue
			}
			for _, d := range fc.Agreement.Disagreements {
				cw.Write([]string{p.A, p.B, fc.Field, d.ID, d.Source, analysis.FormatFloat(float64(d.Jaccard)), strings.Join(d.A, "; "), strings.Join(d.B, "; ")})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
