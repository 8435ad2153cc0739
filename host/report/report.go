// Package report writes a run's HTML report: report.html, one self-contained
// file (inline CSS and SVG, no script, no network request) readable when
// opened from disk, and beside it report.json, the data the page shows.
//
// The report computes nothing of its own: every number on the page is read
// from report.json's Data, which holds value counts and shares per field
// (package analysis's distinct-conversation counts), label and metadata
// distributions, the residual analysis of package analysis (the top values
// of each field against each context, with adjusted residuals and
// significance), the comparison of package compare when other runs are
// given, the run manifest, and what the privacy floor suppressed. The page
// embeds the same JSON, so each number on it exists in a JSON output.
//
// The values of one field are shown as a taxonomy tree (package taxonomy):
// placed on a reference tree such as the paper's, or on the run's own
// taxonomy (taxonomy.RunTree, which builds it once and keeps it in
// RUN/taxonomy; see Options.Flat).
//
// The privacy floor (analysis.DefaultFloor, or the run config's [analysis]
// settings) applies throughout: a value, tree node, label or metadata value
// resting on fewer distinct conversations (or users, where the data names
// users) is not shown; what was hidden is counted.
package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

// Options control a report.
type Options struct {
	// Compare lists other run folders compared with this one.
	Compare []string
	// Tree is a reference taxonomy in the layout of the paper's
	// values_tree.csv, or JSON as taxonomy build writes it ("": the run's
	// own taxonomy, see Flat).
	Tree string
	// TreeField is the field placed on the taxonomy ("" for ai_values, or
	// the first item field).
	TreeField string
	// Flat lists each item field's values under the tree section instead
	// of the run's own taxonomy, when there is no Tree. Without Flat the
	// report shows the run's own taxonomy of TreeField (taxonomy.RunTree:
	// its file in the run folder when newer than the run's store, else one
	// clustered from the field's values and written there, when the field
	// has taxonomy.MinRunValues to BuildMax distinct values; outside those
	// bounds the values are listed flat, and Data.Taxonomy.Note says why).
	Flat bool
	// BuildMax bounds the distinct values the report clusters itself (0:
	// taxonomy.MaxRunValues).
	BuildMax int
	// Embedder embeds values to build the run's taxonomy and to place
	// values on a tree by meaning (nil: the built-in offline embedder).
	Embedder taxonomy.Embedder
	// Threshold is the cosine similarity to the nearest tree value under
	// which a value is left unassigned (nil: taxonomy.DefaultThreshold; 0 is
	// a threshold like any other).
	Threshold *float64
	// Top is the number of values shown per bar chart and heatmap (0: 20).
	Top int
	// MaxContexts bounds a heatmap's columns (0: 30, the largest kept).
	MaxContexts int
	// TreeLeaves bounds the values listed under one tree node (0: 200).
	TreeLeaves int
	// Settings are the analysis settings (floor, alpha, correction, tables);
	// nil reads the run config's [analysis] section.
	Settings *analysis.Settings
}

func (o *Options) defaults() {
	if o.Top <= 0 {
		o.Top = 20
	}
	if o.MaxContexts <= 0 {
		o.MaxContexts = 30
	}
	if o.TreeLeaves <= 0 {
		o.TreeLeaves = 200
	}
}

// Data is everything the report shows, as written to report.json.
type Data struct {
	Title     string              `json:"title"`
	Generated time.Time           `json:"generated"`
	Run       RunInfo             `json:"run"`
	Floor     analysis.Floor      `json:"privacy_floor"`
	Manifest  *runfolder.Manifest `json:"manifest,omitempty"`
	Fields    []*Distribution     `json:"fields"`
	Contexts  []*Distribution     `json:"contexts"`
	Tree      *Node               `json:"tree"`
	// TreeReference is the reference taxonomy file the tree follows ("":
	// the run's own taxonomy, or each field's values, flat).
	TreeReference string `json:"tree_reference,omitempty"`
	// Taxonomy says what the tree is: a reference, the run's own (built or
	// reused, and its file), or flat and why.
	Taxonomy *TreeInfo `json:"taxonomy"`
	// Coverage says how each field was made and what its plugin could not
	// read (languages, conversations without an assistant turn).
	Coverage *Coverage       `json:"coverage"`
	Heatmaps []*Heatmap      `json:"heatmaps"`
	Compare  *compare.Report `json:"compare,omitempty"`
	// Paper sets the run beside the paper's published shares, when the
	// tree is the paper's (compare.ComparePaper).
	Paper *compare.PaperReport `json:"paper,omitempty"`
	// Suppressed sums what the privacy floor hid in the distributions and
	// the tree (the heatmaps' own counts are in each heatmap's summary).
	Suppressed Suppressed `json:"suppressed"`
}

// RunInfo names the run.
type RunInfo struct {
	Dir           string `json:"dir"`
	Name          string `json:"name"`
	Conversations int    `json:"conversations"`
	UserKey       string `json:"user_key,omitempty"`
}

// Distribution is the values of one field (or one metadata key) with their
// counts of distinct conversations and shares of the annotated ones.
type Distribution struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // "label", "items" or "meta"
	Stage string `json:"stage,omitempty"`
	// Annotated conversations: the shares' denominator.
	Annotated int `json:"annotated"`
	Errors    int `json:"errors,omitempty"`
	// Distinct values in all, reported or not; Mentions, the sum of all
	// values' counts.
	Distinct int `json:"distinct"`
	Mentions int `json:"mentions"`
	// Values reported, most frequent first (at most Options.Top of them
	// for item fields).
	Values     []Count         `json:"values"`
	Suppressed SuppressedItems `json:"suppressed"`
}

// Count is one value's count of distinct conversations and its share of
// the distribution's annotated conversations.
type Count struct {
	Value string  `json:"value"`
	Count int     `json:"count"`
	Share float64 `json:"share"`
	Users int     `json:"users,omitempty"`
}

// SuppressedItems counts the values under the privacy floor.
type SuppressedItems struct {
	Values int `json:"values"`
	// Count is the sum of their counts.
	Count int `json:"count"`
}

// Suppressed totals what the floor hid.
type Suppressed struct {
	Values    int `json:"values"`
	Count     int `json:"count"`
	TreeNodes int `json:"tree_nodes"`
}

// Heatmap is the top values of a field against a context: a residual
// analysis of package analysis, cut to the most frequent reported rows and
// columns.
type Heatmap struct {
	Table   string           `json:"table"`
	Rows    string           `json:"rows"`
	Cols    string           `json:"cols"`
	Summary analysis.Summary `json:"summary"`
	Input   analysis.Input   `json:"input"`
	Values  []string         `json:"values"`
	// ValueCounts are the rows' conversations; ContextCounts the columns'.
	ValueCounts   []float64 `json:"value_counts"`
	Contexts      []string  `json:"contexts"`
	ContextCounts []float64 `json:"context_counts"`
	// Cells[i][j] is value i in context j; null when under the floor.
	Cells [][]*Cell `json:"cells"`
	// Hidden: reported rows and columns left out of the heatmap for room.
	HiddenValues   int `json:"hidden_values"`
	HiddenContexts int `json:"hidden_contexts"`
}

// Cell is one heatmap cell.
type Cell struct {
	Count       float64         `json:"count"`
	Expected    analysis.Number `json:"expected"`
	Residual    analysis.Number `json:"residual"`
	PAdjusted   analysis.Number `json:"p_adjusted"`
	Significant bool            `json:"significant"`
}

// Build reads run folder dir (and the runs to compare) into the report's
// data.
func Build(ctx context.Context, dir string, o Options) (*Data, error) {
	o.defaults()
	set, err := settings(dir, o.Settings)
	if err != nil {
		return nil, err
	}
	floorOpts, err := set.Options(analysis.TableSpec{})
	if err != nil {
		return nil, err
	}
	floor := floorOpts.Floor
	lo := analysis.LoadOptions{UserKeys: set.UserKeys}
	r, err := analysis.OpenRun(ctx, dir, lo)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(dir)
	d := &Data{
		Generated: time.Now().UTC().Truncate(time.Second),
		Run:       RunInfo{Dir: abs, Name: filepath.Base(abs), Conversations: r.Len(), UserKey: r.UserKey},
		Floor:     floor,
	}
	if m, err := runfolder.Folder(dir).ReadManifest(); err != nil {
		return nil, err
	} else if m != nil {
		d.Manifest = m
		if m.Run.Name != "" {
			d.Run.Name = m.Run.Name
		}
	}
	d.Title = title(d.Run.Name, d.Manifest)
	if d.Coverage, err = buildCoverage(ctx, r, d.Manifest, floor); err != nil {
		return nil, err
	}
	// The report is shareable: it holds the manifest without the paths,
	// configurations and errors the run folder keeps private.
	if d.Manifest != nil {
		d.Manifest = d.Manifest.Public()
	}
	d.Run.Dir = filepath.Base(d.Run.Dir)
	pass := func(convs, users int) bool {
		return floor.Pass(float64(convs), float64(users), r.UserKey != "")
	}
	tables := set.Tables
	if len(tables) == 0 {
		tables = analysis.DefaultTables(r)
	}
	var metaKeys []string
	for _, t := range tables {
		if k, ok := strings.CutPrefix(t.Cols, "meta."); ok && !slices.Contains(metaKeys, k) {
			metaKeys = append(metaKeys, k)
		}
	}
	if d.Fields, d.Contexts, err = distributions(ctx, r, metaKeys, pass, o.Top); err != nil {
		return nil, err
	}
	for _, dist := range append(slices.Clone(d.Fields), d.Contexts...) {
		d.Suppressed.Values += dist.Suppressed.Values
		d.Suppressed.Count += dist.Suppressed.Count
	}
	if d.Tree, d.Taxonomy, err = buildTree(ctx, dir, r, o, pass); err != nil {
		return nil, err
	}
	if d.Taxonomy != nil {
		// A file of the run by its place in the run, another by its name:
		// the report is shareable, this machine's paths are not.
		if rel, err := filepath.Rel(abs, d.Taxonomy.File); err == nil && filepath.IsLocal(rel) {
			d.Taxonomy.File = filepath.ToSlash(rel)
		} else if d.Taxonomy.File != "" {
			d.Taxonomy.File = filepath.Base(d.Taxonomy.File)
		}
	}
	d.Suppressed.TreeNodes = d.Tree.countSuppressed()
	if o.Tree != "" {
		d.TreeReference = filepath.Base(o.Tree) // shareable: no path
	}
	if d.Paper, err = paperComparison(ctx, dir, o, floor, set.UserKeys); err != nil {
		return nil, err
	}
	for _, t := range tables {
		f, err := r.Field(strings.TrimPrefix(t.Rows, "field:"))
		if err != nil || f.Label {
			continue // heatmaps of values; label × context is in the analysis outputs
		}
		opts, err := set.Options(t)
		if err != nil {
			return nil, err
		}
		rep, res, err := analysis.AnalyzeRun(ctx, r, t, opts, nil)
		if err != nil {
			return nil, err
		}
		d.Heatmaps = append(d.Heatmaps, heatmap(rep, res, o))
	}
	if len(o.Compare) > 0 {
		cr, err := compare.Runs(ctx, append([]string{dir}, o.Compare...), lo, compare.Options{Floor: floor})
		if err != nil {
			return nil, err
		}
		d.Compare = cr.Aggregate() // the report is shareable: no conversation named
	}
	return d, nil
}

// settings reads the run config's [analysis] section (as the analyze
// command does) unless given.
func settings(dir string, given *analysis.Settings) (analysis.Settings, error) {
	if given != nil {
		return *given, nil
	}
	return analysis.ReadRunSettings(dir)
}

// counter counts distinct conversations and users per value, in a pass
// that gives each conversation once and each user's conversations together
// (analysis.Run.Each): the last user counted for a value tells a repeat, so
// memory grows with the values, not with the (value, user) pairs.
type counter struct {
	convs, users map[string]int
	lastUser     map[string]string
}

func newCounter() *counter {
	return &counter{convs: map[string]int{}, users: map[string]int{}, lastUser: map[string]string{}}
}

// add counts a conversation of user with value v (once per conversation).
func (c *counter) add(v, user string) {
	c.convs[v]++
	if user != "" {
		if last, ok := c.lastUser[v]; !ok || last != user {
			c.users[v]++
			c.lastUser[v] = user
		}
	}
}

// distribution sorts the counted values (count descending, then name) and
// applies the floor; keep bounds the values listed (0: all).
func (c *counter) distribution(dist *Distribution, pass func(int, int) bool, keep int) {
	vals := make([]string, 0, len(c.convs))
	for v, n := range c.convs {
		vals = append(vals, v)
		dist.Mentions += n
	}
	slices.SortFunc(vals, func(a, b string) int {
		if x := cmp.Compare(c.convs[b], c.convs[a]); x != 0 {
			return x
		}
		return cmp.Compare(a, b)
	})
	dist.Distinct = len(vals)
	dist.Values = []Count{}
	// With one value under the floor, its count would be Mentions less the
	// values listed (and, of a label, Annotated less them): the least
	// frequent value that passes is withheld with it.
	under, second := 0, ""
	for _, v := range vals {
		if !pass(c.convs[v], c.users[v]) {
			under++
		} else {
			second = v // vals run from the most frequent: the last is the least
		}
	}
	for _, v := range vals {
		n, u := c.convs[v], c.users[v]
		if !pass(n, u) || (under == 1 && v == second) {
			dist.Suppressed.Values++
			dist.Suppressed.Count += n
			continue
		}
		if keep > 0 && len(dist.Values) >= keep {
			continue
		}
		share := 0.0
		if dist.Annotated > 0 {
			share = float64(n) / float64(dist.Annotated)
		}
		dist.Values = append(dist.Values, Count{Value: v, Count: n, Share: share, Users: u})
	}
}

// distributions counts, in one pass over the run, each field's values and
// each of metaKeys' values.
func distributions(ctx context.Context, r *analysis.Run, metaKeys []string, pass func(int, int) bool, top int) (fields, metas []*Distribution, err error) {
	fc := make([]*counter, len(r.Fields))
	for k, f := range r.Fields {
		fc[k] = newCounter()
		fields = append(fields, &Distribution{Name: f.Name, Kind: "items", Stage: f.Stage, Annotated: f.Annotated, Errors: f.Errors})
	}
	mc := make([]*counter, len(metaKeys))
	for k, key := range metaKeys {
		mc[k] = newCounter()
		metas = append(metas, &Distribution{Name: key, Kind: "meta"})
	}
	err = r.Each(ctx, func(c *analysis.Conv) error {
		for k, f := range r.Fields {
			if c.Done(f) {
				for _, v := range c.Values(f) {
					fc[k].add(v, c.User)
				}
			}
		}
		for k, key := range metaKeys {
			if v, ok := c.Meta[key]; ok {
				metas[k].Annotated++
				mc[k].add(v, c.User)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for k, f := range r.Fields {
		keep := top
		if f.Label {
			fields[k].Kind, keep = "label", 0
		}
		fc[k].distribution(fields[k], pass, keep)
	}
	for k := range metaKeys {
		mc[k].distribution(metas[k], pass, 0)
	}
	return fields, metas, nil
}

func heatmap(rep *analysis.Report, res *analysis.Result, o Options) *Heatmap {
	t := res.Table()
	rowSum := make([]float64, len(t.Rows))
	colSum := make([]float64, len(t.Cols))
	for _, c := range t.Cells() {
		rowSum[c.Row] += c.Count
		colSum[c.Col] += c.Count
	}
	if t.RowConversations != nil {
		rowSum = t.RowConversations
	}
	if t.ColConversations != nil {
		colSum = t.ColConversations
	}
	pick := func(n int, reported func(int) bool, sum []float64, labels []string, keep int) ([]int, int) {
		var idx []int
		for i := range n {
			if reported(i) && sum[i] > 0 {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			if x := cmp.Compare(sum[b], sum[a]); x != 0 {
				return x
			}
			return cmp.Compare(labels[a], labels[b])
		})
		hidden := max(len(idx)-keep, 0)
		return idx[:min(len(idx), keep)], hidden
	}
	rows, hr := pick(len(t.Rows), res.RowReported, rowSum, t.Rows, o.Top)
	cols, hc := pick(len(t.Cols), res.ColReported, colSum, t.Cols, o.MaxContexts)
	// Contexts in their natural order (labels as the table has them).
	slices.Sort(cols)
	h := &Heatmap{Table: rep.Name, Rows: rep.Rows.Name, Cols: rep.Cols.Name, Summary: rep.Summary, Input: rep.Input,
		HiddenValues: hr, HiddenContexts: hc, Values: []string{}, Contexts: []string{}, Cells: [][]*Cell{}}
	for _, j := range cols {
		h.Contexts = append(h.Contexts, t.Cols[j])
		h.ContextCounts = append(h.ContextCounts, colSum[j])
	}
	for _, i := range rows {
		h.Values = append(h.Values, t.Rows[i])
		h.ValueCounts = append(h.ValueCounts, rowSum[i])
		line := make([]*Cell, len(cols))
		for k, j := range cols {
			if !res.Reported(i, j) {
				continue
			}
			a := res.Cell(i, j)
			line[k] = &Cell{Count: a.Count, Expected: a.Expected, Residual: a.Residual, PAdjusted: a.PAdjusted, Significant: a.Significant}
		}
		h.Cells = append(h.Cells, line)
	}
	return h
}

// Files are the report's files in a run folder.
const (
	HTMLFile = "report.html"
	JSONFile = "report.json"
)

// Write writes d as dir/report.json and dir/report.html.
func Write(dir string, d *Data) error {
	js, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	js = append(js, '\n')
	var page bytes.Buffer
	if err := renderHTML(&page, d, js); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, JSONFile), js); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, HTMLFile), page.Bytes())
}

// Generate builds and writes the report of run folder dir, returning the
// HTML file's path.
func Generate(ctx context.Context, dir string, o Options) (string, error) {
	d, err := Build(ctx, dir, o)
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	if err := Write(dir, d); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return filepath.Join(dir, HTMLFile), nil
}
