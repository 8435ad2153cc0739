// Package review is human validation of a run: a stratified sample of
// conversations exported as a review sheet (CSV, one line per annotation to
// judge) with an HTML page to read each conversation beside its
// annotations; then the judgements read back and scored — agreement per
// field with a Wilson 95% interval (the paper: 98.8% of extracted values,
// 94% of subjectivity labels judged correct).
//
// # Sampling
//
// The sample is of conversations annotated in at least one reviewed field.
// With --stratify, they are grouped by a label field (such as
// response_type), a metadata key (model, language) or the source, and the n
// conversations are allocated to the groups in proportion to their sizes,
// with at least one per group when n allows it (largest remainders; so
// small groups are seen). Within a group the conversations are a uniform
// random sample (seeded: the same seed gives the same sheet). Each sampled
// conversation gives one line per annotation of each reviewed field: the
// label of a label field, each item of an item field, or a line with value
// "(none)" when an item field found nothing (is that right?).
//
// # Scoring
//
// The reviewer fills the judgement column: yes/no, y/n, 1/0, true/false,
// correct/incorrect, agree/disagree (any case); a blank line is not judged
// yet. Agreement is the share of judged lines marked correct, per field and
// per stratum, with a Wilson score interval; per-stratum rates are reported
// as they are, overall rates unweighted (the sample over-represents small
// strata by design). A line whose conversation, field or value is not in
// the run, or whose judgement is unreadable, is set aside and reported with
// its line number.
package review

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/runfolder"
)

// None is the value of a sheet line for an item field that found nothing.
const None = "(none)"

// SheetColumns are the columns of a review sheet.
var SheetColumns = []string{"row", "conversation_id", "source", "stratum", "field", "kind", "value", "evidence", "judgement", "note"}

// SampleOptions control a sample.
type SampleOptions struct {
	N int
	// Stratify is a label field, a metadata key (meta.KEY) or "source";
	// "" for a simple random sample.
	Stratify string
	Seed     uint64
	// Fields to review (nil: every field).
	Fields []string
}

// Stratum is one group of the sample.
type Stratum struct {
	Name       string `json:"name"`
	Population int    `json:"population"`
	Sampled    int    `json:"sampled"`
}

// Line is one line of a review sheet.
type Line struct {
	Row            int
	ConversationID string
	Source         string
	Stratum        string
	Field          string
	Kind           string // "label" or "item"
	Value          string
	Evidence       string
	conv           int
}

// Sheet is a sample ready for review.
type Sheet struct {
	Run      *analysis.Run
	Stratify string
	Strata   []Stratum
	// Conversations sampled (their seqs, positions in the run's dataset
	// stream), in sheet order.
	Conversations []int
	Lines         []Line
	// sampled are the sampled conversations, by seq: all a sheet keeps of
	// the run.
	sampled map[int]analysis.Conversation
}

// Sample draws a stratified sample of a run's conversations, in two
// passes over the run (Run.Each): the strata's members (a seq each), then
// the sampled conversations' annotations.
func Sample(ctx context.Context, r *analysis.Run, o SampleOptions) (*Sheet, error) {
	if o.N <= 0 {
		return nil, errors.New("the sample size must be positive")
	}
	var fields []*analysis.Field
	if o.Fields == nil {
		fields = r.Fields
	} else {
		for _, name := range o.Fields {
			f, err := r.Field(name)
			if err != nil {
				return nil, err
			}
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("run %s has no annotations to review", r.Dir)
	}
	var axis *analysis.Axis
	if o.Stratify != "" {
		a, err := r.ResolveAxis(o.Stratify)
		if err != nil {
			return nil, err
		}
		if a.Kind == analysis.AxisField {
			f, _ := r.Field(a.Name)
			if !f.Label {
				return nil, fmt.Errorf("--stratify %s: an item field gives a conversation several values; stratify by a label field, a metadata key or source", o.Stratify)
			}
		}
		axis = &a
	}
	groups := map[string][]int{}
	stratum := map[int]string{}
	err := r.Each(ctx, func(c *analysis.Conv) error {
		done := false
		for _, f := range fields {
			done = done || c.Done(f)
		}
		if !done {
			return nil
		}
		s := "(all)"
		if axis != nil {
			s = stratumOf(r, *axis, c)
		}
		groups[s] = append(groups[s], int(c.Seq))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, members := range groups {
		slices.Sort(members) // in the run's order, whatever the pass's
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("run %s: no conversation is annotated in the fields reviewed", r.Dir)
	}
	var names []string
	for s := range groups {
		names = append(names, s)
	}
	sort.Strings(names)
	sizes := make([]int, len(names))
	for k, s := range names {
		sizes[k] = len(groups[s])
	}
	alloc := Allocate(sizes, o.N)
	rng := rand.New(rand.NewPCG(o.Seed, 0x7e71e3))
	sh := &Sheet{Run: r, Stratify: o.Stratify, sampled: map[int]analysis.Conversation{}}
	for k, s := range names {
		members := groups[s]
		perm := rng.Perm(len(members))
		picked := make([]int, alloc[k])
		for q := range picked {
			picked[q] = members[perm[q]]
			stratum[picked[q]] = s
		}
		slices.Sort(picked)
		sh.Strata = append(sh.Strata, Stratum{Name: s, Population: len(members), Sampled: len(picked)})
		sh.Conversations = append(sh.Conversations, picked...)
	}
	groups = nil
	// The sampled conversations' lines, then put in sheet order.
	lines := map[int][]Line{}
	err = r.Each(ctx, func(c *analysis.Conv) error {
		i := int(c.Seq)
		s, ok := stratum[i]
		if !ok {
			return nil
		}
		sh.sampled[i] = c.Conversation
		{
			for _, f := range fields {
				if !c.Done(f) {
					continue
				}
				kind := "item"
				if f.Label {
					kind = "label"
				}
				add := func(value, attrs string) {
					lines[i] = append(lines[i], Line{ConversationID: c.ID, Source: c.Source, Stratum: s,
						Field: f.Name, Kind: kind, Value: value, Evidence: evidence(attrs), conv: i})
				}
				items := c.Items(f)
				if len(items) == 0 {
					add(None, "")
				}
				for _, it := range items {
					add(it.Value, it.Attrs)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, i := range sh.Conversations {
		for _, l := range lines[i] {
			l.Row = len(sh.Lines) + 1
			sh.Lines = append(sh.Lines, l)
		}
	}
	return sh, nil
}

func stratumOf(r *analysis.Run, a analysis.Axis, c *analysis.Conv) string {
	switch a.Kind {
	case analysis.AxisSource:
		return c.Source
	case analysis.AxisMeta:
		if v, ok := c.Meta[a.Name]; ok {
			return v
		}
		return None
	}
	f, _ := r.Field(a.Name)
	if !c.Done(f) || len(c.Items(f)) == 0 {
		return None
	}
	return strings.Join(c.Values(f), " | ")
}

// evidence is the "evidence" attribute of an annotation, if any.
func evidence(attrs string) string {
	if attrs == "" {
		return ""
	}
	var m map[string]any
	if json.Unmarshal([]byte(attrs), &m) != nil {
		return ""
	}
	s, _ := m["evidence"].(string)
	return s
}

// Allocate splits n among groups of the given sizes in proportion to them
// (largest remainders), then, when n is at least the number of non-empty
// groups, gives each of them at least one, taken from the groups most over
// their quota; never more than a group has.
func Allocate(sizes []int, n int) []int {
	out := make([]int, len(sizes))
	total, groups := 0, 0
	for _, s := range sizes {
		total += s
		if s > 0 {
			groups++
		}
	}
	n = min(n, total)
	if n <= 0 {
		return out
	}
	quota := make([]float64, len(sizes))
	type rem struct {
		k    int
		frac float64
	}
	var rems []rem
	given := 0
	for k, s := range sizes {
		quota[k] = float64(n) * float64(s) / float64(total)
		out[k] = int(quota[k])
		given += out[k]
		rems = append(rems, rem{k, quota[k] - float64(out[k])})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.frac, a.frac) })
	for q := 0; given < n && q < len(rems); q++ {
		if k := rems[q].k; out[k] < sizes[k] {
			out[k]++
			given++
		}
	}
	if n < groups {
		return out
	}
	for k, s := range sizes {
		if s == 0 || out[k] > 0 {
			continue
		}
		from := -1
		for d := range sizes {
			if out[d] > 1 && (from < 0 || float64(out[d])-quota[d] > float64(out[from])-quota[from]) {
				from = d
			}
		}
		if from < 0 {
			break
		}
		out[from]--
		out[k]++
	}
	return out
}

// WriteCSV writes the review sheet.
func (sh *Sheet) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(SheetColumns)
	for _, l := range sh.Lines {
		cw.Write([]string{fmt.Sprint(l.Row), l.ConversationID, l.Source, l.Stratum, l.Field, l.Kind, l.Value, l.Evidence, "", ""})
	}
	cw.Flush()
	return cw.Error()
}

// Texts reads the sampled conversations' turns from the run's dataset (as
// its manifest names it), keyed by conversation index. It reports the
// conversations not found and those whose content changed since the run.
func (sh *Sheet) Texts(ctx context.Context) (map[int]*conversation.Conversation, []string, error) {
	folder := runfolder.Folder(sh.Run.Dir)
	m, err := folder.ReadManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the run's manifest for its dataset: %w", err)
	}
	if m == nil || len(m.Dataset.Paths) == 0 {
		return nil, nil, fmt.Errorf("%s names no dataset", folder.Manifest())
	}
	want := map[[2]string]int{}
	for _, i := range sh.Conversations {
		c := sh.sampled[i]
		want[[2]string{c.Source, c.ID}] = i
	}
	rd, err := dataset.Open(m.Dataset.ReadPaths(), dataset.Options{Format: m.Dataset.Format})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the run's dataset: %w", err)
	}
	defer rd.Close()
	out := map[int]*conversation.Conversation{}
	var warnings []string
	for len(out) < len(want) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		c, err := rd.Next()
		if err == io.EOF {
			break
		}
		var bad *dataset.BadRecord
		if errors.As(err, &bad) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the run's dataset: %w", err)
		}
		i, ok := want[[2]string{c.Source, c.ID}]
		if !ok {
			continue
		}
		if _, dup := out[i]; dup {
			continue
		}
		if conversation.ContentID(c.Turns) != sh.sampled[i].ContentSHA {
			warnings = append(warnings, fmt.Sprintf("conversation %s changed in the dataset since the run", c.ID))
		}
		// The reader reuses what Next returns: keep a copy.
		cc := *c
		cc.Turns = slices.Clone(c.Turns)
		out[i] = &cc
	}
	for k, i := range want {
		if _, ok := out[i]; !ok {
			warnings = append(warnings, fmt.Sprintf("conversation %s (%s) not found in the dataset", k[1], k[0]))
		}
	}
	sort.Strings(warnings)
	return out, warnings, nil
}

// WriteHTML writes a self-contained page: each sampled conversation's turns
// beside its sheet lines (numbered as in the CSV). texts may lack some
// conversations (their turns are then said to be missing).
func (sh *Sheet) WriteHTML(w io.Writer, texts map[int]*conversation.Conversation) error {
	page := htmlPage{Run: sh.Run.Dir, Stratify: sh.Stratify, Strata: sh.Strata, Lines: len(sh.Lines)}
	byConv := map[int][]Line{}
	for _, l := range sh.Lines {
		byConv[l.conv] = append(byConv[l.conv], l)
	}
	for _, i := range sh.Conversations {
		c := sh.sampled[i]
		hc := htmlConv{ID: c.ID, Source: c.Source, Lines: byConv[i]}
		if len(hc.Lines) > 0 {
			hc.Stratum = hc.Lines[0].Stratum
		}
		var keys []string
		for k := range c.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			hc.Meta = append(hc.Meta, [2]string{k, c.Meta[k]})
		}
		if t := texts[i]; t != nil {
			hc.Turns = t.Turns
		}
		page.Conversations = append(page.Conversations, hc)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, page); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
