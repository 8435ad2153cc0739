// Package taxonomy builds a hierarchical taxonomy of values: it normalises
// value names, embeds them (an Embedder: a model provider's embeddings
// endpoint, or the built-in offline embedder of package embed), clusters them
// bottom-up into levels (k-means or Ward, package cluster), names the clusters
// (a Namer: a namer plugin such as the built-in contrastive-namer, which asks
// a model, or a built-in offline namer), and writes the tree in the exact CSV
// layout of the "Values in the Wild" paper's values_tree.csv. It also assigns values onto an existing tree, and measures
// how far two trees agree (AMI, ARI, NMI per level over their shared leaves).
package taxonomy

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/internal/atomicfile"
)

// Node is one row of a tree: a value (level 0; its ID is the value name) or a
// cluster (level >= 1).
type Node struct {
	ID          string  `json:"cluster_id"`
	Description string  `json:"description"`
	Name        string  `json:"name"`
	Level       int     `json:"level"`
	Parent      string  `json:"parent_cluster_id"`
	Pct         float64 `json:"pct_total_occurrences"`
	// Count is the total count under the node (JSON only; the CSV has Pct).
	Count float64 `json:"count,omitempty"`
}

// Tree is a taxonomy: leaves (level 0) and clusters up to Depth.
type Tree struct {
	Nodes []Node
	byID  map[string]int
}

// csvHeader is the paper's values_tree.csv header.
var csvHeader = []string{"cluster_id", "description", "name", "level", "parent_cluster_id", "pct_total_occurrences"}

// NewTree indexes nodes and checks the tree: unique IDs, parents that exist
// one level up, leaves at level 0, one top level without parents.
func NewTree(nodes []Node) (*Tree, error) {
	t := &Tree{Nodes: nodes, byID: make(map[string]int, len(nodes))}
	for i, n := range nodes {
		if n.ID == "" {
			return nil, fmt.Errorf("node %d (%q): empty cluster_id", i+1, n.Name)
		}
		if n.Level < 0 {
			return nil, fmt.Errorf("node %q: level %d", n.ID, n.Level)
		}
		if _, dup := t.byID[n.ID]; dup {
			return nil, fmt.Errorf("cluster_id %q appears twice", n.ID)
		}
		t.byID[n.ID] = i
	}
	depth := t.Depth()
	for _, n := range nodes {
		if n.Parent == "" {
			if n.Level != depth {
				return nil, fmt.Errorf("node %q at level %d has no parent (only the top level, %d, may have none)", n.ID, n.Level, depth)
			}
			continue
		}
		p, ok := t.byID[n.Parent]
		if !ok {
			return nil, fmt.Errorf("node %q: parent %q is not in the tree", n.ID, n.Parent)
		}
		if nodes[p].Level != n.Level+1 {
			return nil, fmt.Errorf("node %q at level %d: parent %q is at level %d, want %d", n.ID, n.Level, n.Parent, nodes[p].Level, n.Level+1)
		}
	}
	return t, nil
}

// Depth is the highest level.
func (t *Tree) Depth() int {
	d := 0
	for _, n := range t.Nodes {
		d = max(d, n.Level)
	}
	return d
}

// Node returns the node with an ID.
func (t *Tree) Node(id string) (Node, bool) {
	i, ok := t.byID[id]
	if !ok {
		return Node{}, false
	}
	return t.Nodes[i], true
}

// Level returns the nodes of one level, in file order.
func (t *Tree) Level(l int) []Node {
	var out []Node
	for _, n := range t.Nodes {
		if n.Level == l {
			out = append(out, n)
		}
	}
	return out
}

// Sizes is the number of nodes per level, from 0 to Depth.
func (t *Tree) Sizes() []int {
	s := make([]int, t.Depth()+1)
	for _, n := range t.Nodes {
		s[n.Level]++
	}
	return s
}

// Ancestor returns the ID of a node's ancestor at a level ("" when the node
// is above that level or the chain breaks).
func (t *Tree) Ancestor(id string, level int) string {
	for {
		n, ok := t.Node(id)
		if !ok || n.Level > level {
			return ""
		}
		if n.Level == level {
			return n.ID
		}
		id = n.Parent
	}
}

// Path returns the IDs of a node's ancestors from level 1 up (a leaf's
// clusters, bottom-up).
func (t *Tree) Path(id string) []string {
	var out []string
	n, ok := t.Node(id)
	for ok && n.Parent != "" {
		out = append(out, n.Parent)
		n, ok = t.Node(n.Parent)
	}
	return out
}

// ReadFile reads a tree from CSV (the paper's values_tree.csv layout) or,
// when the name ends in .json, from JSON as WriteJSON writes it.
func ReadFile(path string) (*Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var t *Tree
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		t, err = ReadJSON(f)
	} else {
		t, err = ReadCSV(f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadCSV reads the paper's values_tree.csv layout.
func ReadCSV(r io.Reader) (*Tree, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvHeader)
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: expected the header " + strings.Join(csvHeader, ","))
		}
		return nil, err
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if !slices.Equal(head, csvHeader) {
		return nil, fmt.Errorf("line 1: header %q, expected %q", strings.Join(head, ","), strings.Join(csvHeader, ","))
	}
	var nodes []Node
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		lvl, err := strconv.Atoi(rec[3])
		if err != nil || lvl < 0 {
			return nil, fmt.Errorf("line %d: level %q is not a whole number >= 0", line, rec[3])
		}
		pct := 0.0
		if rec[5] != "" {
			pct, err = strconv.ParseFloat(rec[5], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: pct_total_occurrences %q is not a number", line, rec[5])
			}
		}
		nodes = append(nodes, Node{ID: rec[0], Description: rec[1], Name: rec[2], Level: lvl, Parent: rec[4], Pct: pct})
	}
	if len(nodes) == 0 {
		return nil, errors.New("no rows after the header")
	}
	return NewTree(nodes)
}

// WriteCSV writes the paper's values_tree.csv layout byte for byte: CRLF
// line ends and none after the last row, percentages rounded to 3 decimals
// without trailing zeros, fields quoted only when needed; rows in the tree's
// order (Build writes leaves first, then each level up).
func (t *Tree) WriteCSV(w io.Writer) error {
	var buf bytes.Buffer
	if err := t.writeCSV(&buf); err != nil {
		return err
	}
	_, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\r\n")))
	return err
}

func (t *Tree) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := cw.Write([]string{n.ID, n.Description, n.Name, strconv.Itoa(n.Level), n.Parent, formatPct(n.Pct)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatPct(p float64) string {
	return strconv.FormatFloat(math.Round(p*1000)/1000, 'f', -1, 64)
}

type treeJSON struct {
	Format string `json:"format"`
	Levels []int  `json:"levels"`
	Nodes  []Node `json:"nodes"`
}

const jsonFormat = "valuescope-taxonomy/1"

// WriteJSON writes the tree as {"format", "levels": sizes, "nodes": [...]},
// nodes with the CSV's fields plus count.
func (t *Tree) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(treeJSON{Format: jsonFormat, Levels: t.Sizes(), Nodes: t.Nodes})
}

// ReadJSON reads what WriteJSON wrote.
func ReadJSON(r io.Reader) (*Tree, error) {
	var tj treeJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&tj); err != nil {
		return nil, err
	}
	if tj.Format != jsonFormat {
		return nil, fmt.Errorf("format %q, expected %q", tj.Format, jsonFormat)
	}
	return NewTree(tj.Nodes)
}

// WriteFile writes CSV, or JSON when the name ends in .json, whole or not
// at all (atomicfile): a run's report trusts a tree file it finds, so a
// crash must not leave half of one. Missing folders are made.
func (t *Tree) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return atomicfile.Write(path, t.WriteJSON)
	}
	return atomicfile.Write(path, t.WriteCSV)
}

// Floored is the tree as it may be published under a privacy floor: the
// leaves whose values (by Key) do not pass are withheld, and so are the
// clusters left without a leaf; the names and descriptions of clusters that
// name a withheld value are replaced by withheldName and ""; and every
// percentage is recomputed over the leaves kept, so that a cluster's share
// is the sum of its children's. Keeping the original percentages would give
// away the withheld values: a cluster's share less its shown children's is
// what the withheld ones hold, their exact count where one was withheld.
// Counts (JSON only) are recomputed the same way. It returns the leaves
// withheld, and a nil tree when none passes.
func (t *Tree) Floored(pass func(key string) bool, withheldName string) (*Tree, int, error) {
	under := map[string]bool{}
	keep := make([]bool, len(t.Nodes))
	pct := make([]float64, len(t.Nodes))
	count := make([]float64, len(t.Nodes))
	withheld, total := 0, 0.0
	for i, n := range t.Nodes {
		if n.Level != 0 {
			continue
		}
		if !pass(Key(n.ID)) {
			under[Key(n.ID)], under[Key(n.Name)] = true, true
			withheld++
			continue
		}
		keep[i], pct[i], count[i] = true, n.Pct, n.Count
		total += n.Pct
	}
	if withheld == len(t.Level(0)) {
		return nil, withheld, nil
	}
	// Each kept leaf's share carries up to every cluster above it.
	for i, n := range t.Nodes {
		if n.Level != 0 || !keep[i] {
			continue
		}
		for p := n.Parent; p != ""; p = t.Nodes[t.byID[p]].Parent {
			j := t.byID[p]
			keep[j] = true
			pct[j] += n.Pct
			count[j] += n.Count
		}
	}
	var nodes []Node
	for i, n := range t.Nodes {
		if !keep[i] {
			continue
		}
		if total > 0 {
			n.Pct = pct[i] * 100 / total
		}
		n.Count = count[i]
		if n.Level > 0 {
			if under[Key(n.Name)] {
				n.Name = withheldName
			}
			if namesAny(n.Description, under) {
				n.Description = ""
			}
		}
		nodes = append(nodes, n)
	}
	out, err := NewTree(nodes)
	return out, withheld, err
}

// namesAny reports whether a description names a value of under: any of
// its phrases between punctuation ("12 values, the most frequent: a, b.").
func namesAny(desc string, under map[string]bool) bool {
	for _, phrase := range strings.FieldsFunc(desc, func(r rune) bool { return strings.ContainsRune(",:;.()", r) }) {
		if under[Key(phrase)] {
			return true
		}
	}
	return false
}
