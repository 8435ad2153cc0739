package compare

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/valuename"
)

// The paper's released files (Hugging Face dataset Anthropic/values-in-the-wild,
// CC BY 4.0), as ReadPaper reads them from one folder.
const (
	PaperTreeFile        = "values_tree.csv"
	PaperFrequenciesFile = "values_frequencies.csv"
	// PaperConversations is the number of subjective conversations the
	// paper's values_frequencies.csv shares are of.
	PaperConversations = 308210
)

// Units of the shares set side by side. The paper publishes two: a value's
// share of conversations (values_frequencies.csv's pct_convos) and a
// cluster's share of all value occurrences (values_tree.csv's
// pct_total_occurrences, which is the sum of its values' pct_convos over
// the sum of all of them: an occurrence is one value in one conversation).
// A run is put in the paper's unit in each table, never across.
const (
	UnitConversations = "share of conversations"
	UnitOccurrences   = "share of value occurrences"
)

// Paper is the paper's published numbers.
type Paper struct {
	Dir  string
	Tree *taxonomy.Tree
	// Freq is each value's share of the paper's conversations (0..1), by
	// valuename.Key; Names the value as the paper spells it.
	Freq  map[string]float64
	Names map[string]string
}

// ReadPaper reads the paper's values_tree.csv and values_frequencies.csv
// from dir.
func ReadPaper(dir string) (*Paper, error) {
	tree, err := taxonomy.ReadFile(filepath.Join(dir, PaperTreeFile))
	if err != nil {
		return nil, fmt.Errorf("the paper's tree: %w", err)
	}
	path := filepath.Join(dir, PaperFrequenciesFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the paper's value frequencies: %w", err)
	}
	defer f.Close()
	p := &Paper{Dir: dir, Tree: tree, Freq: map[string]float64{}, Names: map[string]string{}}
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s line 1: %w", path, err)
	}
	if len(head) < 2 || head[0] != "value" || head[1] != "pct_convos" {
		return nil, fmt.Errorf("%s line 1: header %q, expected value,pct_convos", path, strings.Join(head, ","))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		pc, err := strconv.ParseFloat(rec[1], 64)
		if err != nil || pc < 0 || pc > 100 || rec[0] == "" {
			return nil, fmt.Errorf("%s line %d: %q,%q: expected a value and a percentage of conversations (0 to 100)", path, line, rec[0], rec[1])
		}
		k := valuename.Key(rec[0])
		p.Freq[k] += pc / 100
		if _, ok := p.Names[k]; !ok {
			p.Names[k] = rec[0]
		}
	}
	if len(p.Freq) == 0 {
		return nil, fmt.Errorf("%s: no values", path)
	}
	return p, nil
}

// PaperOptions control a comparison with the paper.
type PaperOptions struct {
	// Field is the field placed on the paper's tree ("": ai_values).
	Field string
	// Embedder places values whose name is not a tree value's by meaning
	// (nil: by name only); Threshold is the cosine similarity under which
	// a value stays unplaced.
	Embedder  taxonomy.Embedder
	Threshold float64
	// Level is the confidence level of the intervals (0: 0.95).
	Level float64
	// Top is the number of the run's values listed (0: 20).
	Top int
	// Floor hides the run's values, and tree nodes, under the privacy floor.
	Floor analysis.Floor
	// UserKeys name a conversation's user for the floor.
	UserKeys []string
}

// PaperReport is a run's values beside the paper's.
type PaperReport struct {
	Run   string `json:"run"`
	Field string `json:"field"`
	// Annotated conversations of the field: the run's conversation shares'
	// denominator; Occurrences, its values placed on the tree, one per
	// conversation and tree value: the occurrence shares' denominator.
	Annotated   int `json:"annotated"`
	Occurrences int `json:"occurrences"`
	// Unplaced values (distinct) and their occurrences, left out of the
	// occurrence shares.
	UnplacedValues      int     `json:"unplaced_values"`
	UnplacedOccurrences int     `json:"unplaced_occurrences"`
	Level               float64 `json:"level"`
	// Levels are the tree's top level, then the one under it.
	Levels []PaperLevel `json:"levels"`
	// Values are the run's most frequent values (as placed on the tree).
	Values []PaperValue `json:"values"`
	// Notes say what the numbers are and are not.
	Notes []string `json:"notes"`
}

// PaperLevel is one level of the tree: each node's share of the run's
// value occurrences beside the paper's.
type PaperLevel struct {
	Level int         `json:"level"`
	Unit  string      `json:"unit"`
	Nodes []PaperNode `json:"nodes"`
	// Suppressed counts the nodes under the privacy floor in the run.
	Suppressed int `json:"suppressed"`
}

// PaperNode is one cluster of the paper's tree.
type PaperNode struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Parent is the name of the node above (level under the top only).
	Parent string `json:"parent,omitempty"`
	// Occurrences: the run's value occurrences under the node;
	// Conversations, the conversations with one.
	Occurrences   int     `json:"occurrences"`
	Conversations int     `json:"conversations"`
	Share         float64 `json:"share"`
	// CI is the interval of Share, a ratio of two sums over conversations
	// (an occurrence is not an independent draw: a conversation has
	// several), by the delta method with conversations as clusters, as R's
	// survey::svyratio.
	CI analysis.Interval `json:"ci"`
	// Paper is the node's pct_total_occurrences as a share.
	Paper float64 `json:"paper"`
}

// PaperValue is one of the run's values beside the paper's share of
// conversations with it.
type PaperValue struct {
	Value string `json:"value"`
	// Leaf is the tree value it was placed on ("" when unplaced), Exact
	// when by name.
	Leaf  string `json:"leaf"`
	Exact bool   `json:"exact"`
	// Count is the run's conversations with the value; Share of the
	// annotated ones, with its Wilson interval.
	Count int               `json:"count"`
	Share float64           `json:"share"`
	CI    analysis.Interval `json:"ci"`
	// Paper is the share of the paper's conversations with the leaf
	// (null when unplaced), with its Wilson interval over
	// PaperConversations.
	Paper   analysis.Number   `json:"paper"`
	PaperCI analysis.Interval `json:"paper_ci"`
}

// ComparePaper places run dir's values of o.Field on the paper's tree and
// sets the run's shares beside the paper's, each in the paper's unit.
func ComparePaper(ctx context.Context, dir string, p *Paper, o PaperOptions) (*PaperReport, error) {
	if o.Field == "" {
		o.Field = taxonomy.DefaultField
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.Top <= 0 {
		o.Top = 20
	}
	if p.Tree.Depth() < 1 {
		return nil, fmt.Errorf("the paper's tree has no clusters")
	}
	r, err := analysis.LoadRun(ctx, dir, analysis.LoadOptions{UserKeys: o.UserKeys})
	if err != nil {
		return nil, err
	}
	f, err := r.Field(o.Field)
	if err != nil {
		return nil, err
	}
	if f.Label {
		return nil, fmt.Errorf("field %s is a label, not a list of values to place on the paper's tree", o.Field)
	}
	// The run's distinct values, placed once each.
	counts := map[string]int{}
	for i := range r.Conversations {
		if f.Done[i] {
			for _, v := range f.Values(i) {
				counts[v]++
			}
		}
	}
	var vals []taxonomy.Value
	for v, n := range counts {
		vals = append(vals, taxonomy.Value{Name: v, Count: float64(n)})
	}
	slices.SortFunc(vals, func(a, b taxonomy.Value) int { return cmp.Compare(a.Name, b.Name) })
	as, _, err := taxonomy.Assign(ctx, vals, p.Tree, o.Embedder, o.Threshold)
	if err != nil {
		return nil, fmt.Errorf("placing %s's values on the paper's tree: %w", dir, err)
	}
	leafOf := map[string]taxonomy.Assignment{}
	for _, a := range as {
		leafOf[a.Value] = a
	}
	top := p.Tree.Depth()
	levels := []int{top}
	if top > 1 {
		levels = append(levels, top-1)
	}
	rep := &PaperReport{Run: dir, Field: o.Field, Level: o.Level, Values: []PaperValue{}}
	// Per conversation: its leaves (one occurrence each), and per level
	// the occurrences under each node, for the ratio's variance.
	type nodeAcc struct {
		occ, convs int
		users      map[string]bool
		perConv    []float64 // (conversation index, occurrences under the node) pairs
	}
	acc := make([]map[string]*nodeAcc, len(levels))
	for k := range acc {
		acc[k] = map[string]*nodeAcc{}
	}
	var occPerConv []float64
	unplaced := map[string]bool{}
	for i := range r.Conversations {
		if !f.Done[i] {
			continue
		}
		rep.Annotated++
		leaves := map[string]bool{}
		for _, v := range f.Values(i) {
			a := leafOf[v]
			if !a.Assigned {
				unplaced[v] = true
				rep.UnplacedOccurrences++
				continue
			}
			leaves[a.Leaf] = true
		}
		occPerConv = append(occPerConv, float64(len(leaves)))
		rep.Occurrences += len(leaves)
		for k, l := range levels {
			under := map[string]int{}
			for leaf := range leaves {
				under[p.Tree.Ancestor(leaf, l)]++
			}
			for id, n := range under {
				a := acc[k][id]
				if a == nil {
					a = &nodeAcc{users: map[string]bool{}, perConv: make([]float64, 0, 8)}
					acc[k][id] = a
				}
				a.occ += n
				a.convs++
				if u := r.Conversations[i].User; u != "" {
					a.users[u] = true
				}
				// Sparse: the conversation's index among the annotated
				// ones and its count, for the variance below.
				a.perConv = append(a.perConv, float64(len(occPerConv)-1), float64(n))
			}
		}
	}
	rep.UnplacedValues = len(unplaced)
	for k, l := range levels {
		pl := PaperLevel{Level: l, Unit: UnitOccurrences, Nodes: []PaperNode{}}
		for _, n := range p.Tree.Level(l) {
			pn := PaperNode{Name: n.Name, ID: n.ID}
			pn.Paper = n.Pct / 100
			if l < top {
				if up, ok := p.Tree.Node(p.Tree.Ancestor(n.ID, top)); ok {
					pn.Parent = up.Name
				}
			}
			a := acc[k][n.ID]
			if a != nil {
				if !o.Floor.Pass(float64(a.convs), float64(len(a.users)), r.UserKey != "") {
					pl.Suppressed++
					continue
				}
				pn.Occurrences, pn.Conversations = a.occ, a.convs
			}
			var y []float64
			if a != nil {
				y = a.perConv
			}
			pn.Share, pn.CI = ratioInterval(y, occPerConv, o.Level)
			pl.Nodes = append(pl.Nodes, pn)
		}
		slices.SortStableFunc(pl.Nodes, func(a, b PaperNode) int { return cmp.Compare(b.Paper, a.Paper) })
		rep.Levels = append(rep.Levels, pl)
	}
	// The run's top values in conversations, beside the paper's.
	slices.SortFunc(vals, func(a, b taxonomy.Value) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	users := valueUsers(r, f)
	for _, v := range vals {
		if len(rep.Values) >= o.Top {
			break
		}
		n := int(v.Count)
		if !o.Floor.Pass(float64(n), float64(len(users[v.Name])), r.UserKey != "") {
			continue
		}
		a := leafOf[v.Name]
		pv := PaperValue{Value: v.Name, Count: n, Share: float64(n) / float64(rep.Annotated),
			CI:    analysis.Wilson(float64(n), float64(rep.Annotated), o.Level),
			Paper: analysis.Number(math.NaN()), PaperCI: analysis.Interval{Low: analysis.Number(math.NaN()), High: analysis.Number(math.NaN())}}
		if a.Assigned {
			pv.Leaf, pv.Exact = a.Leaf, a.Exact
			if s, ok := p.Freq[valuename.Key(a.Leaf)]; ok {
				pv.Paper = analysis.Number(s)
				pv.PaperCI = analysis.Wilson(math.Round(s*PaperConversations), PaperConversations, o.Level)
			}
		}
		rep.Values = append(rep.Values, pv)
	}
	rep.Notes = []string{
		fmt.Sprintf("Clusters: %s. The paper's is pct_total_occurrences of values_tree.csv; the run's counts each tree value once per conversation (%d occurrences over %d annotated conversations), as the paper's does, with an interval that treats conversations, not occurrences, as the sample.", UnitOccurrences, rep.Occurrences, rep.Annotated),
		fmt.Sprintf("Values: %s. The paper's is pct_convos of values_frequencies.csv, of its %d subjective conversations; the run's is of its %d annotated conversations, including those with no value.", UnitConversations, PaperConversations, rep.Annotated),
	}
	if rep.UnplacedValues > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of the run's distinct values (%d occurrences) could not be placed on the paper's tree and are left out of the cluster shares.", rep.UnplacedValues, rep.UnplacedOccurrences))
	}
	return rep, nil
}

// valueUsers are the distinct users of each value of f (empty when the
// run names no users).
func valueUsers(r *analysis.Run, f *analysis.Field) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	if r.UserKey == "" {
		return out
	}
	for i, c := range r.Conversations {
		if !f.Done[i] || c.User == "" {
			continue
		}
		for _, v := range f.Values(i) {
			if out[v] == nil {
				out[v] = map[string]bool{}
			}
			out[v][c.User] = true
		}
	}
	return out
}

// ratioInterval is the ratio R = Σy/Σx over n clusters (conversations)
// with its normal interval from the linearised variance
// n/(n−1) · Σ(y_i − R·x_i)² / (Σx)², what R's survey::svyratio reports for a
// simple random sample of clusters. ySparse lists (index, y_i) pairs of the
// clusters with y_i > 0; x holds every cluster's x_i.
func ratioInterval(ySparse, x []float64, level float64) (float64, analysis.Interval) {
	nan := analysis.Interval{Low: analysis.Number(math.NaN()), High: analysis.Number(math.NaN())}
	n := float64(len(x))
	var sx, sy float64
	for _, v := range x {
		sx += v
	}
	y := make(map[int]float64, len(ySparse)/2)
	for k := 0; k+1 < len(ySparse); k += 2 {
		y[int(ySparse[k])] += ySparse[k+1]
		sy += ySparse[k+1]
	}
	if sx == 0 || n < 2 {
		return math.NaN(), nan
	}
	r := sy / sx
	var ss float64
	for i, xi := range x {
		d := y[i] - r*xi
		ss += d * d
	}
	se := math.Sqrt(n/(n-1)*ss) / sx
	z := -distuv.UnitNormal.Quantile((1 - level) / 2)
	return r, analysis.Interval{Low: analysis.Number(math.Max(0, r-z*se)), High: analysis.Number(math.Min(1, r+z*se))}
}

// WritePaperText prints a comparison with the paper: each level's clusters
// and the run's top values, the run's share and interval beside the
// paper's, with the unit of each table.
func WritePaperText(w io.Writer, rep *PaperReport) error {
	bw := bufio.NewWriter(w)
	pc := func(x float64) string {
		if math.IsNaN(x) {
			return "NA"
		}
		return fmt.Sprintf("%.1f%%", 100*x)
	}
	ci := func(i analysis.Interval) string {
		if math.IsNaN(float64(i.Low)) {
			return ""
		}
		return fmt.Sprintf("%.1f–%.1f%%", 100*float64(i.Low), 100*float64(i.High))
	}
	fmt.Fprintf(bw, "%s compared with the paper (Values in the Wild, arXiv 2504.15236): %s, %d annotated conversations, %d value occurrences placed on the paper's tree; %.0f%% intervals.\n",
		rep.Run, rep.Field, rep.Annotated, rep.Occurrences, 100*rep.Level)
	for _, l := range rep.Levels {
		fmt.Fprintf(bw, "\nlevel %d clusters, %s:\n", l.Level, l.Unit)
		fmt.Fprintf(bw, "  %-58s %8s %8s %15s %8s\n", "cluster", "count", "run", "interval", "paper")
		for _, n := range l.Nodes {
			name := n.Name
			if n.Parent != "" {
				name += " (" + strings.TrimSuffix(n.Parent, " values") + ")"
			}
			fmt.Fprintf(bw, "  %-58s %8d %8s %15s %8s\n", name, n.Occurrences, pc(n.Share), ci(n.CI), pc(n.Paper))
		}
		if l.Suppressed > 0 {
			fmt.Fprintf(bw, "  %d clusters under the privacy floor not shown\n", l.Suppressed)
		}
	}
	fmt.Fprintf(bw, "\nthe run's top values, %s:\n", UnitConversations)
	fmt.Fprintf(bw, "  %-32s %-28s %8s %8s %15s %8s %15s\n", "value", "paper's value", "count", "run", "interval", "paper", "interval")
	for _, v := range rep.Values {
		leaf := v.Leaf
		switch {
		case leaf == "":
			leaf = "(not placed)"
		case v.Exact:
			leaf = "= " + leaf
		default:
			leaf = "~ " + leaf
		}
		fmt.Fprintf(bw, "  %-32s %-28s %8d %8s %15s %8s %15s\n", v.Value, leaf, v.Count, pc(v.Share), ci(v.CI), pc(float64(v.Paper)), ci(v.PaperCI))
	}
	fmt.Fprintf(bw, "\n")
	for _, n := range rep.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	return bw.Flush()
}
