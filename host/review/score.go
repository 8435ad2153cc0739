package review

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
)

// Rate is an agreement rate with its interval.
type Rate struct {
	Name   string            `json:"name"`
	Judged int               `json:"judged"`
	Agree  int               `json:"agree"`
	Rate   analysis.Number   `json:"rate"`
	CI     analysis.Interval `json:"ci"`
}

// FieldScore is the agreement on one field, overall and per stratum.
type FieldScore struct {
	Rate
	Strata []Rate `json:"strata"`
}

// Problem is a sheet line set aside.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Score is a scored review sheet.
type Score struct {
	Sheet string  `json:"sheet"`
	Run   string  `json:"run"`
	Level float64 `json:"level"`
	Lines int     `json:"lines"`
	// Unjudged lines have an empty judgement.
	Unjudged int          `json:"unjudged"`
	Fields   []FieldScore `json:"fields"`
	// SetAside are lines that could not be scored.
	SetAside []Problem `json:"set_aside"`
}

// Judgement reads a judgement: true for correct, false for incorrect; ok is
// false for a blank (not judged yet). err for anything unreadable.
func Judgement(s string) (correct, ok bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return false, false, nil
	case "1", "y", "yes", "true", "correct", "agree", "ok", "right", "✓", "✔":
		return true, true, nil
	case "0", "n", "no", "false", "incorrect", "disagree", "wrong", "x", "✗", "✘":
		return false, true, nil
	}
	return false, false, fmt.Errorf("judgement %q: expected yes or no (y/n, 1/0, correct/incorrect, agree/disagree), or blank when not judged", s)
}

// ScoreFile reads a review sheet and scores it against the run.
func ScoreFile(r *analysis.Run, path string, level float64) (*Score, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ScoreSheet(r, bufio.NewReader(f), path, level)
}

// ScoreSheet scores a review sheet read from rd (named name in messages).
// The sheet needs the columns conversation_id, field, value and judgement
// (by header name, any order; source and stratum are used when present).
func ScoreSheet(r *analysis.Run, rd io.Reader, name string, level float64) (*Score, error) {
	if level == 0 {
		level = 0.95
	}
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty sheet (expected a header with conversation_id, field, value, judgement)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for k, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = k
	}
	var missing []string
	for _, c := range []string{"conversation_id", "field", "value", "judgement"} {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: header lacks column(s) %s (has: %s)", name, strings.Join(missing, ", "), strings.Join(header, ", "))
	}
	get := func(rec []string, c string) string {
		k, ok := col[c]
		if !ok || k >= len(rec) {
			return ""
		}
		return rec[k]
	}
	// Conversations by id (and source).
	byID := map[string][]int{}
	for i, c := range r.Conversations {
		byID[c.ID] = append(byID[c.ID], i)
	}
	sc := &Score{Sheet: name, Run: r.Dir, Level: level, Fields: []FieldScore{}, SetAside: []Problem{}}
	type tally struct{ judged, agree int }
	fields := map[string]*tally{}
	strata := map[[2]string]*tally{}
	var fieldOrder []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				sc.SetAside = append(sc.SetAside, Problem{pe.StartLine, pe.Err.Error()})
				continue
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sc.Lines++
		aside := func(format string, a ...any) {
			sc.SetAside = append(sc.SetAside, Problem{line, fmt.Sprintf(format, a...)})
		}
		id, field, value := get(rec, "conversation_id"), get(rec, "field"), get(rec, "value")
		correct, judged, err := Judgement(get(rec, "judgement"))
		if err != nil {
			aside("%v", err)
			continue
		}
		convs := byID[id]
		if src := get(rec, "source"); src != "" {
			convs = slices.DeleteFunc(slices.Clone(convs), func(i int) bool { return r.Conversations[i].Source != src })
		}
		if len(convs) == 0 {
			aside("conversation %q is not in run %s", id, r.Dir)
			continue
		}
		f, err := r.Field(field)
		if err != nil {
			aside("%v", err)
			continue
		}
		i := convs[0]
		if !f.Done[i] {
			aside("conversation %s has no %s annotation in the run", id, field)
			continue
		}
		vals := f.Values(i)
		if !slices.Contains(vals, value) && !(value == None && len(vals) == 0) {
			aside("conversation %s: %s has no value %q in the run (it has: %s)", id, field, value, strings.Join(vals, "; "))
			continue
		}
		if !judged {
			sc.Unjudged++
			continue
		}
		t := fields[field]
		if t == nil {
			t = &tally{}
			fields[field] = t
			fieldOrder = append(fieldOrder, field)
		}
		st := strata[[2]string{field, get(rec, "stratum")}]
		if st == nil {
			st = &tally{}
			strata[[2]string{field, get(rec, "stratum")}] = st
		}
		t.judged++
		st.judged++
		if correct {
			t.agree++
			st.agree++
		}
	}
	rate := func(name string, t *tally) Rate {
		return Rate{Name: name, Judged: t.judged, Agree: t.agree, Rate: analysis.Number(float64(t.agree) / float64(t.judged)),
			CI: analysis.Wilson(float64(t.agree), float64(t.judged), level)}
	}
	for _, fname := range fieldOrder {
		fs := FieldScore{Rate: rate(fname, fields[fname]), Strata: []Rate{}}
		var names []string
		for k := range strata {
			if k[0] == fname && k[1] != "" {
				names = append(names, k[1])
			}
		}
		sort.Strings(names)
		if len(names) > 1 || (len(names) == 1 && names[0] != "(all)") {
			for _, s := range names {
				fs.Strata = append(fs.Strata, rate(s, strata[[2]string{fname, s}]))
			}
		}
		sc.Fields = append(sc.Fields, fs)
	}
	return sc, nil
}

// WriteText writes a score for reading.
func (sc *Score) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s: %d lines, %d not judged yet, %d set aside\n", sc.Sheet, sc.Lines, sc.Unjudged, len(sc.SetAside))
	pct := func(x analysis.Number) string { return fmt.Sprintf("%.1f%%", 100*float64(x)) }
	for _, f := range sc.Fields {
		fmt.Fprintf(bw, "%-16s %s correct (%d of %d judged), %g%% Wilson interval %s to %s\n",
			f.Name, pct(f.Rate.Rate), f.Agree, f.Judged, 100*sc.Level, pct(f.CI.Low), pct(f.CI.High))
		for _, s := range f.Strata {
			fmt.Fprintf(bw, "  %-22s %s (%d of %d), %s to %s\n", s.Name, pct(s.Rate), s.Agree, s.Judged, pct(s.CI.Low), pct(s.CI.High))
		}
	}
	for k, p := range sc.SetAside {
		if k == 10 {
			fmt.Fprintf(bw, "... and %d more set aside (--json lists all)\n", len(sc.SetAside)-10)
			break
		}
		fmt.Fprintf(bw, "set aside: %s:%d: %s\n", sc.Sheet, p.Line, p.Reason)
	}
	return bw.Flush()
}
