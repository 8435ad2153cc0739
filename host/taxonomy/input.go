package taxonomy

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// BadRow is an input row set aside, with why.
type BadRow struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ReadValuesCSV reads values from a CSV whose header has a "value" column and
// a "count" column (other columns ignored), or the paper's
// values_frequencies.csv ("value,pct_convos"), whose percentages are used as
// weights. A row with an empty value or a bad count is set aside and
// reported, not dropped silently.
func ReadValuesCSV(path string) ([]Value, []BadRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	v, bad, err := readValues(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, bad, nil
}

func readValues(r io.Reader) ([]Value, []BadRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, errors.New("empty file: expected a header with columns value and count")
		}
		return nil, nil, err
	}
	vi, ci := -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "value":
			vi = i
		case "count":
			ci = i
		case "pct_convos":
			if ci < 0 {
				ci = i
			}
		}
	}
	if vi < 0 || ci < 0 {
		return nil, nil, fmt.Errorf("line 1: header %q: expected columns value and count (or the paper's value,pct_convos)", strings.Join(head, ","))
	}
	var vals []Value
	var bad []BadRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, BadRow{Line: pe.Line, Reason: pe.Err.Error()})
				continue
			}
			return nil, nil, err
		}
		if vi >= len(rec) || ci >= len(rec) {
			bad = append(bad, BadRow{Line: line, Reason: fmt.Sprintf("%d columns, the header has %d", len(rec), len(head))})
			continue
		}
		name := strings.TrimSpace(rec[vi])
		if name == "" {
			bad = append(bad, BadRow{Line: line, Reason: "empty value"})
			continue
		}
		c, err := strconv.ParseFloat(strings.TrimSpace(rec[ci]), 64)
		if err != nil || c < 0 || c != c {
			bad = append(bad, BadRow{Line: line, Reason: fmt.Sprintf("count %q is not a number >= 0", rec[ci])})
			continue
		}
		vals = append(vals, Value{Name: name, Count: c})
	}
	if len(vals) == 0 {
		return nil, bad, errors.New("no values")
	}
	return vals, bad, nil
}

// ErrNoValues is wrapped by ReadRun's error for a field with no values.
var ErrNoValues = errors.New("no values")

// ReadRun reads the distinct values of one field (ai_values, human_values)
// from a run folder's store, each with the number of times it was
// extracted.
func ReadRun(ctx context.Context, dir, field string) ([]Value, error) {
	f, err := runfolder.Existing(dir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(f.Store())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Store(), err)
	}
	defer sn.Close()
	var out []Value
	for v, err := range sn.FieldValues(field).All() {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Store(), err)
		}
		out = append(out, Value{Name: v.Value, Count: float64(v.Count)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: no %s annotations in the run", dir, ErrNoValues, field)
	}
	return out, nil
}
