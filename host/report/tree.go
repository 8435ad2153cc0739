package report

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
)

// Manifest is the part of a run's manifest.json the report shows; Raw is
// the whole file.
type Manifest struct {
	Valuescope struct {
		Version  string `json:"version"`
		Revision string `json:"revision"`
		Go       string `json:"go"`
	} `json:"valuescope"`
	Run struct {
		Name     string `json:"name"`
		Started  string `json:"started"`
		Finished string `json:"finished"`
		Complete bool   `json:"complete"`
	} `json:"run"`
	Dataset struct {
		Paths  []string `json:"paths"`
		Format string   `json:"format"`
		Files  []struct {
			Path          string `json:"path"`
			Format        string `json:"format"`
			Conversations int    `json:"conversations"`
			BadRecords    int    `json:"bad_records"`
			Size          int64  `json:"size"`
			SHA256        string `json:"sha256"`
		} `json:"files"`
	} `json:"dataset"`
	Stages []struct {
		Name   string `json:"name"`
		Plugin struct {
			Ref      string `json:"ref"`
			Manifest struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Kind    string `json:"kind"`
			} `json:"manifest"`
			SHA256 string `json:"sha256"`
		} `json:"plugin"`
		ConfigJSON   string `json:"config_json"`
		PromptFile   string `json:"prompt_file"`
		PromptSHA256 string `json:"prompt_sha256"`
		Model        string `json:"model"`
	} `json:"stages"`
	Models []struct {
		Name     string `json:"name"`
		Provider string `json:"provider"`
		Model    string `json:"model"`
	} `json:"models"`
	Raw json.RawMessage `json:"raw"`
}

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	m.Raw = json.RawMessage(b)
	return m, nil
}

// Node is a tree node: a taxonomy cluster, a field, or a value.
type Node struct {
	Name string `json:"name"`
	// Conversations with at least one value under the node, and their share
	// of the field's annotated conversations.
	Conversations int     `json:"conversations"`
	Share         float64 `json:"share"`
	// ReferencePct is the reference tree's pct_total_occurrences.
	ReferencePct *float64 `json:"reference_pct,omitempty"`
	Children     []*Node  `json:"children,omitempty"`
	// Hidden counts the children not listed: under the privacy floor
	// (Suppressed) or past Options.TreeLeaves (More).
	Suppressed int `json:"suppressed,omitempty"`
	More       int `json:"more,omitempty"`
	// Open: shown expanded.
	Open bool `json:"-"`

	users map[string]bool
	convs map[int]bool
	id    string
}

func (n *Node) countSuppressed() int {
	if n == nil {
		return 0
	}
	s := n.Suppressed
	for _, c := range n.Children {
		s += c.countSuppressed()
	}
	return s
}

// treeRow is one row of a values_tree.csv.
type treeRow struct {
	id, name, parent string
	level            int
	pct              *float64
}

func readTree(path string) ([]treeRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"cluster_id", "name", "level", "parent_cluster_id"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("tree %s: no %s column (want values_tree.csv's cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences)", path, need)
		}
	}
	var out []treeRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", path, err)
		}
		lv, err := strconv.Atoi(rec[col["level"]])
		if err != nil {
			return nil, fmt.Errorf("tree %s: level %q: %w", path, rec[col["level"]], err)
		}
		r := treeRow{id: rec[col["cluster_id"]], name: rec[col["name"]], parent: rec[col["parent_cluster_id"]], level: lv}
		if i, ok := col["pct_total_occurrences"]; ok {
			if p, err := strconv.ParseFloat(rec[i], 64); err == nil {
				r.pct = &p
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// buildTree places a field's values on the reference tree (o.Tree), or
// lists each field's values under a root when there is none.
func buildTree(r *analysis.Run, o Options, pass func(int, int) bool) (*Node, error) {
	root := &Node{Name: "all values", Open: true}
	if o.Tree == "" {
		for _, f := range r.Fields {
			if f.Label {
				continue
			}
			fn := &Node{Name: f.Name}
			leaves := map[string]*Node{}
			for i := range r.Conversations {
				if !f.Done[i] {
					continue
				}
				for _, v := range f.Values(i) {
					leaf := leaves[v]
					if leaf == nil {
						leaf = &Node{Name: v}
						leaves[v] = leaf
						fn.Children = append(fn.Children, leaf)
					}
					add(leaf, i, r.Conversations[i].User)
					add(fn, i, r.Conversations[i].User)
					add(root, i, r.Conversations[i].User)
				}
			}
			finish(fn, f.Annotated, pass, o.TreeLeaves)
			root.Children = append(root.Children, fn)
		}
		root.Conversations = len(root.convs)
		if n := len(r.Conversations); n > 0 {
			root.Share = float64(root.Conversations) / float64(n)
		}
		root.convs, root.users = nil, nil
		return root, nil
	}
	rows, err := readTree(o.Tree)
	if err != nil {
		return nil, err
	}
	field := o.TreeField
	if field == "" {
		for _, f := range r.Fields {
			if f.Name == "ai_values" {
				field = f.Name
			}
		}
		for _, f := range r.Fields {
			if field == "" && !f.Label {
				field = f.Name
			}
		}
	}
	f, err := r.Field(field)
	if err != nil {
		return nil, fmt.Errorf("tree: %w", err)
	}
	root.Name = f.Name
	byID := map[string]*Node{}
	leafOf := map[string]*Node{} // normalised level-0 name → node
	for _, tr := range rows {
		byID[tr.id] = &Node{Name: tr.name, ReferencePct: tr.pct, id: tr.id}
	}
	parent := map[*Node]*Node{}
	// Reference order: rows as the file lists them, placed under parents.
	for _, tr := range rows {
		n := byID[tr.id]
		if tr.level == 0 {
			leafOf[analysis.NormalizeValue(tr.name)] = n
		}
		p := byID[tr.parent]
		if p == nil {
			p = root
		}
		p.Children = append(p.Children, n)
		parent[n] = p
	}
	unassigned := &Node{Name: "unassigned"}
	unplaced := map[string]*Node{}
	for i := range r.Conversations {
		if !f.Done[i] {
			continue
		}
		user := r.Conversations[i].User
		add(root, i, user)
		for _, v := range f.Values(i) {
			n := leafOf[analysis.NormalizeValue(v)]
			if n == nil {
				leaf := unplaced[v]
				if leaf == nil {
					leaf = &Node{Name: v}
					unplaced[v] = leaf
					unassigned.Children = append(unassigned.Children, leaf)
				}
				add(leaf, i, user)
				add(unassigned, i, user)
				continue
			}
			for ; n != nil && n != root; n = parent[n] {
				add(n, i, user)
			}
		}
	}
	if len(unassigned.Children) > 0 {
		root.Children = append(root.Children, unassigned)
	}
	finish(root, f.Annotated, pass, o.TreeLeaves)
	return root, nil
}

func add(n *Node, conv int, user string) {
	if n.convs == nil {
		n.convs = map[int]bool{}
	}
	n.convs[conv] = true
	if user != "" {
		if n.users == nil {
			n.users = map[string]bool{}
		}
		n.users[user] = true
	}
}

// finish sets counts and shares, drops empty nodes and those under the
// floor (counting them), and sorts children by count.
func finish(n *Node, annotated int, pass func(int, int) bool, leaves int) {
	n.Conversations = len(n.convs)
	if annotated > 0 {
		n.Share = float64(n.Conversations) / float64(annotated)
	}
	var kept []*Node
	for _, c := range n.Children {
		if len(c.convs) == 0 {
			continue
		}
		if !pass(len(c.convs), len(c.users)) {
			n.Suppressed++
			continue
		}
		finish(c, annotated, pass, leaves)
		kept = append(kept, c)
	}
	slices.SortStableFunc(kept, func(a, b *Node) int {
		if x := cmp.Compare(b.Conversations, a.Conversations); x != 0 {
			return x
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if len(kept) > leaves {
		n.More = len(kept) - leaves
		kept = kept[:leaves]
	}
	n.Children = kept
	n.convs, n.users = nil, nil
}
