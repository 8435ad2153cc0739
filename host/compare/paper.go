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
	UnitConversations = "share of conversations with a value"
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
	// Run is the run's folder name (the report is shareable: no path).
	Run   string `json:"run"`
	Field string `json:"field"`
	// Annotated conversations of the field; WithValues, those with at
	// least one value of it: the conversation shares' denominator, as the
	// paper's pct_convos is of its subjective conversations, which
	// express values. Occurrences, the run's values placed on the tree,
	// one per conversation and tree value: the occurrence shares'
	// denominator.
	Annotated   int `json:"annotated"`
	WithValues  int `json:"with_values"`
	Occurrences int `json:"occurrences"`
	// Unplaced values (distinct) and their occurrences, left out of the
	// occurrence shares.
	UnplacedValues      int     `json:"unplaced_values"`
	UnplacedOccurrences int     `json:"unplaced_occurrences"`
	Level               float64 `json:"level"`
	// Clusters is "conversations" when the intervals treat conversations
	// as independent, else the metadata key of the users they are
	// clustered by.
	Clusters string `json:"clusters"`
	// Levels are the tree's top level, then the one under it.
	Levels []PaperLevel `json:"levels"`
	// Values are the run's most frequent values (as placed on the tree).
	Values []PaperValue `json:"values"`
	// ValuesEmpty says why there is no values table ("" when there is).
	ValuesEmpty string `json:"values_empty,omitempty"`
	// Notes say what the numbers are and are not.
	Notes []string `json:"notes"`
}

// PaperLevel is one level of the tree: each node's share of the run's
// value occurrences beside the paper's.
type PaperLevel struct {
	Level int         `json:"level"`
	Unit  string      `json:"unit"`
	Nodes []PaperNode `json:"nodes"`
	// Suppressed counts the nodes whose run numbers are blank: under the
	// privacy floor, hidden so that no blank count follows from the
	// others by subtraction, or zero (so that a blank does not mark a
	// small count).
	Suppressed int `json:"suppressed"`
	// Empty says why the level has no table ("" when it has).
	Empty string `json:"empty,omitempty"`
}

// PaperNode is one cluster of the paper's tree.
type PaperNode struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Parent is the name of the node above (level under the top only).
	Parent string `json:"parent,omitempty"`
	// Shown: the run's numbers are published; else they are blank (see
	// PaperLevel.Suppressed) and Share and CI are null.
	Shown bool `json:"shown"`
	// Occurrences: the run's value occurrences under the node;
	// Conversations, the conversations with one.
	Occurrences   int             `json:"occurrences,omitempty"`
	Conversations int             `json:"conversations,omitempty"`
	Share         analysis.Number `json:"share"`
	// CI is the interval of Share, a ratio of two sums over conversations
	// (an occurrence is not an independent draw: a conversation has
	// several), by the delta method with conversations, or the users
	// when the run names them, as clusters: R's survey::svyratio.
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
	// Count is the run's conversations with the value; Share of those
	// with a value (PaperReport.WithValues), with its Wilson interval, or
	// with users as clusters the ratio interval of svyratio.
	Count int               `json:"count"`
	Share analysis.Number   `json:"share"`
	CI    analysis.Interval `json:"ci"`
	// Paper is the share of the paper's conversations with the leaf
	// (null when unplaced), with its Wilson interval over
	// PaperConversations.
	Paper   analysis.Number   `json:"paper"`
	PaperCI analysis.Interval `json:"paper_ci"`
}

// noInterval is the interval of a share with none (null in JSON).
var noInterval = analysis.Interval{Low: analysis.Number(math.NaN()), High: analysis.Number(math.NaN())}

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
	rep := &PaperReport{Run: filepath.Base(filepath.Clean(dir)), Field: o.Field, Level: o.Level, Values: []PaperValue{}, Clusters: "conversations"}
	users := r.UserKey != ""
	if users {
		rep.Clusters = r.UserKey
	}
	// The sample's clusters (primary sampling units): each annotated
	// conversation, or, when the run names users, each user (a
	// conversation without one stands alone), as svydesign(ids = ~user).
	psu := map[string]int{}
	psuOf := func(i int) int {
		k := "\x00" + strconv.Itoa(i)
		if u := r.Conversations[i].User; users && u != "" {
			k = u
		}
		j, ok := psu[k]
		if !ok {
			j = len(psu)
			psu[k] = j
		}
		return j
	}
	// Per cluster: its value occurrences placed (x), and per level the
	// occurrences under each node (y), for the ratio's variance.
	type nodeAcc struct {
		occ, convs int
		users      map[string]bool
		y          map[int]float64
	}
	acc := make([]map[string]*nodeAcc, len(levels))
	for k := range acc {
		acc[k] = map[string]*nodeAcc{}
	}
	var occ []float64      // per cluster: occurrences placed
	var withVals []float64 // per cluster: conversations with a value
	valY := map[string]map[int]float64{}
	unplaced := map[string]bool{}
	for i := range r.Conversations {
		if !f.Done[i] {
			continue
		}
		rep.Annotated++
		j := psuOf(i)
		for len(occ) <= j {
			occ = append(occ, 0)
			withVals = append(withVals, 0)
		}
		vs := f.Values(i)
		if len(vs) > 0 {
			rep.WithValues++
			withVals[j]++
		}
		leaves := map[string]bool{}
		for _, v := range vs {
			if valY[v] == nil {
				valY[v] = map[int]float64{}
			}
			valY[v][j]++
			a := leafOf[v]
			if !a.Assigned {
				unplaced[v] = true
				rep.UnplacedOccurrences++
				continue
			}
			leaves[a.Leaf] = true
		}
		occ[j] += float64(len(leaves))
		rep.Occurrences += len(leaves)
		for k, l := range levels {
			under := map[string]int{}
			for leaf := range leaves {
				under[p.Tree.Ancestor(leaf, l)]++
			}
			for id, n := range under {
				a := acc[k][id]
				if a == nil {
					a = &nodeAcc{users: map[string]bool{}, y: map[int]float64{}}
					acc[k][id] = a
				}
				a.occ += n
				a.convs++
				if u := r.Conversations[i].User; u != "" {
					a.users[u] = true
				}
				a.y[j] += float64(n)
			}
		}
	}
	rep.UnplacedValues = len(unplaced)

	// The cluster tables, and the cells of their hierarchy for the
	// complementary suppression: the top level, then the level under it.
	var cells []treeCell
	var at [][]int // per level, per node: its cell
	topCell := map[string]int{}
	for k, l := range levels {
		pl := PaperLevel{Level: l, Unit: UnitOccurrences, Nodes: []PaperNode{}}
		at = append(at, nil)
		for _, n := range p.Tree.Level(l) {
			pn := PaperNode{Name: n.Name, ID: n.ID, Paper: n.Pct / 100, Share: analysis.Number(math.NaN()), CI: noInterval}
			c := treeCell{Parent: -1}
			if l < top {
				up := p.Tree.Ancestor(n.ID, top)
				if u, ok := p.Tree.Node(up); ok {
					pn.Parent = u.Name
				}
				c.Parent = topCell[up]
			}
			if a := acc[k][n.ID]; a != nil {
				pn.Occurrences, pn.Conversations = a.occ, a.convs
				c.Count = a.occ
				c.Protect = !o.Floor.Pass(float64(a.convs), float64(len(a.users)), users)
			}
			c.Hidden = c.Count == 0 || c.Protect
			if l == top {
				topCell[n.ID] = len(cells)
			}
			at[k] = append(at[k], len(cells))
			cells = append(cells, c)
			pl.Nodes = append(pl.Nodes, pn)
		}
		rep.Levels = append(rep.Levels, pl)
	}
	protectable := treeComplement(cells)
	for k := range rep.Levels {
		pl := &rep.Levels[k]
		switch {
		case rep.Annotated < 2:
			pl.Empty = fmt.Sprintf("Nothing to compare: %d annotated conversation(s); a share and its interval need at least 2.", rep.Annotated)
		case rep.Occurrences == 0:
			pl.Empty = fmt.Sprintf("Nothing to compare: none of the run's %d distinct values could be placed on the paper's tree.", rep.UnplacedValues)
		case !protectable:
			pl.Empty = "Not shown: the run's placed values rest on too few conversations for any cluster's count to be published without giving away one under the privacy floor."
		}
		for i := range pl.Nodes {
			pn := &pl.Nodes[i]
			c := cells[at[k][i]]
			if pl.Empty != "" || c.Hidden {
				pn.Occurrences, pn.Conversations = 0, 0
				pl.Suppressed++
				continue
			}
			pn.Shown = true
			pn.Share, pn.CI = ratioInterval(acc[k][pn.ID].y, occ, o.Level)
		}
		slices.SortStableFunc(pl.Nodes, func(a, b PaperNode) int { return cmp.Compare(b.Paper, a.Paper) })
	}
	// The run's top values in conversations, beside the paper's.
	slices.SortFunc(vals, func(a, b taxonomy.Value) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	vUsers := valueUsers(r, f)
	if rep.WithValues < 2 {
		rep.ValuesEmpty = fmt.Sprintf("Nothing to compare: %d conversation(s) with a value of %s; a share and its interval need at least 2.", rep.WithValues, o.Field)
		vals = nil
	}
	for _, v := range vals {
		if len(rep.Values) >= o.Top {
			break
		}
		n := int(v.Count)
		if !o.Floor.Pass(float64(n), float64(len(vUsers[v.Name])), users) {
			continue
		}
		a := leafOf[v.Name]
		pv := PaperValue{Value: v.Name, Count: n, Paper: analysis.Number(math.NaN()), PaperCI: noInterval}
		if users {
			pv.Share, pv.CI = ratioInterval(valY[v.Name], withVals, o.Level)
		} else {
			pv.Share = analysis.Number(float64(n) / float64(rep.WithValues))
			pv.CI = analysis.Wilson(float64(n), float64(rep.WithValues), o.Level)
		}
		if a.Assigned {
			pv.Leaf, pv.Exact = a.Leaf, a.Exact
			if s, ok := p.Freq[valuename.Key(a.Leaf)]; ok {
				pv.Paper = analysis.Number(s)
				pv.PaperCI = analysis.Wilson(math.Round(s*PaperConversations), PaperConversations, o.Level)
			}
		}
		rep.Values = append(rep.Values, pv)
	}
	if rep.ValuesEmpty == "" && len(rep.Values) == 0 {
		rep.ValuesEmpty = fmt.Sprintf("No value of %s reaches the privacy floor.", o.Field)
	}
	sample := "The intervals treat conversations as independent draws; they are not when conversations share turns or users (hh-rlhf's chosen and rejected transcripts share all but the last answer), and are then too narrow."
	if users {
		sample = fmt.Sprintf("The intervals treat the run's users (metadata %s) as the sample, each with all of their conversations (R's svyratio with ids = ~user).", r.UserKey)
	}
	rep.Notes = []string{
		fmt.Sprintf("Clusters: %s. The paper's is pct_total_occurrences of values_tree.csv; the run's counts each tree value once per conversation (%d occurrences over %d annotated conversations), as the paper's does, with an interval that treats conversations, not occurrences, as the sample.", UnitOccurrences, rep.Occurrences, rep.Annotated),
		fmt.Sprintf("Values: %s. The paper's is pct_convos of values_frequencies.csv, of its %d subjective conversations (those that express values); the run's is of its %d conversations with at least one value of %s (of %d annotated).", UnitConversations, PaperConversations, rep.WithValues, o.Field, rep.Annotated),
		sample,
		"A blank cluster is under the privacy floor, withheld so that no blank count follows from the others by subtraction, or zero. The paper's values are summed over their spelling variants (one value by its normalised name).",
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

// ratioInterval is the ratio R = Σy/Σx over n clusters (conversations, or
// users) with its normal interval from the linearised variance
// n/(n−1) · Σ(y_i − R·x_i)² / (Σx)², what R's survey::svyratio reports for a
// sample of clusters with replacement. y holds the clusters with y_i > 0
// by index; x holds every cluster's x_i. NaN, with no interval, when
// Σx = 0 or n < 2; no interval when its standard error is 0.
func ratioInterval(y map[int]float64, x []float64, level float64) (analysis.Number, analysis.Interval) {
	n := float64(len(x))
	var sx, sy float64
	for _, v := range x {
		sx += v
	}
	for _, v := range y {
		sy += v
	}
	if sx == 0 || n < 2 {
		return analysis.Number(math.NaN()), noInterval
	}
	r := sy / sx
	var ss float64
	for i, xi := range x {
		d := y[i] - r*xi
		ss += d * d
	}
	se := math.Sqrt(n/(n-1)*ss) / sx
	if se == 0 {
		// Every cluster at the same ratio (none, or all, of its
		// occurrences under the node): the normal interval collapses to a
		// point, which claims a certainty the sample does not give.
		return analysis.Number(r), noInterval
	}
	z := -distuv.UnitNormal.Quantile((1 - level) / 2)
	return analysis.Number(r), analysis.Interval{Low: analysis.Number(math.Max(0, r-z*se)), High: analysis.Number(math.Min(1, r+z*se))}
}

// WritePaperText prints a comparison with the paper: each level's clusters
// and the run's top values, the run's share and interval beside the
// paper's, with the unit of each table. A share under 0.1% has two
// significant digits; a blank is a number not published or not defined.
func WritePaperText(w io.Writer, rep *PaperReport) error {
	bw := bufio.NewWriter(w)
	pc := func(x float64) string {
		switch {
		case math.IsNaN(x):
			return ""
		case x != 0 && x < 0.001:
			return fmt.Sprintf("%.2g%%", 100*x)
		}
		return fmt.Sprintf("%.1f%%", 100*x)
	}
	ci := func(i analysis.Interval) string { return PercentInterval(i, "–") }
	fmt.Fprintf(bw, "%s compared with the paper (Values in the Wild, arXiv 2504.15236): %s, %d annotated conversations (%d with a value), %d value occurrences placed on the paper's tree; %.0f%% intervals.\n",
		rep.Run, rep.Field, rep.Annotated, rep.WithValues, rep.Occurrences, 100*rep.Level)
	for _, l := range rep.Levels {
		fmt.Fprintf(bw, "\nlevel %d clusters, %s:\n", l.Level, l.Unit)
		if l.Empty != "" {
			fmt.Fprintf(bw, "  %s\n", l.Empty)
			continue
		}
		fmt.Fprintf(bw, "  %-58s %8s %8s %15s %8s\n", "cluster", "count", "run", "interval", "paper")
		for _, n := range l.Nodes {
			name := n.Name
			if n.Parent != "" {
				name += " (" + strings.TrimSuffix(n.Parent, " values") + ")"
			}
			count := ""
			if n.Shown {
				count = strconv.Itoa(n.Occurrences)
			}
			fmt.Fprintf(bw, "  %-58s %8s %8s %15s %8s\n", name, count, pc(float64(n.Share)), ci(n.CI), pc(n.Paper))
		}
		if l.Suppressed > 0 {
			fmt.Fprintf(bw, "  %d clusters blank: under the privacy floor, withheld so that none follows by subtraction, or zero\n", l.Suppressed)
		}
	}
	fmt.Fprintf(bw, "\nthe run's top values, %s:\n", UnitConversations)
	if rep.ValuesEmpty != "" {
		fmt.Fprintf(bw, "  %s\n", rep.ValuesEmpty)
	} else {
		fmt.Fprintf(bw, "  %-32s %-28s %8s %8s %15s %8s %15s\n", "value", "paper's value", "count", "run", "interval", "paper", "interval")
	}
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
		fmt.Fprintf(bw, "  %-32s %-28s %8d %8s %15s %8s %15s\n", v.Value, leaf, v.Count, pc(float64(v.Share)), ci(v.CI), pc(float64(v.Paper)), ci(v.PaperCI))
	}
	fmt.Fprintf(bw, "\n")
	for _, n := range rep.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	return bw.Flush()
}

// PercentInterval writes an interval of shares as percentages joined by
// sep, both ends with the same decimals: enough for two significant digits
// of the lower end, and more while the two ends would read the same (the
// paper's intervals over 308,210 conversations are narrow: 1.0–1.0%
// would read as a point). "" when the interval is not defined.
func PercentInterval(i analysis.Interval, sep string) string {
	lo, hi := 100*float64(i.Low), 100*float64(i.High)
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return ""
	}
	d := 1
	if lo > 0 {
		d = max(1, 1-int(math.Floor(math.Log10(lo))))
	}
	for d < 6 && hi > lo && strconv.FormatFloat(lo, 'f', d, 64) == strconv.FormatFloat(hi, 'f', d, 64) {
		d++
	}
	d = min(d, 6)
	return strconv.FormatFloat(lo, 'f', d, 64) + sep + strconv.FormatFloat(hi, 'f', d, 64) + "%"
}
