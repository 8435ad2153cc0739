package explore

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/report"
)

// Index is the list of runs served.
type Index struct {
	Runs  []*RunRef   `json:"runs"`
	Index IndexStatus `json:"index"`
}

func (e *Explorer) index(w http.ResponseWriter, req *http.Request, _ *Run) (string, string, any, error) {
	ix := Index{Index: e.Status()}
	for _, r := range e.runs {
		ix.Runs = append(ix.Runs, r.ref())
	}
	return "valuescope serve", "index.html", ix, nil
}

// Overview is a run's numbers, each linked to its conversations.
type Overview struct {
	Conversations int               `json:"conversations"`
	Floor         analysis.Floor    `json:"privacy_floor"`
	Fields        []FieldView       `json:"fields"`
	Contexts      []FieldView       `json:"contexts"`
	Taxonomy      string            `json:"taxonomy"`
	Tree          *NodeView         `json:"tree"`
	Heatmaps      []HeatView        `json:"heatmaps"`
	Compare       []PairView        `json:"compare,omitempty"`
	Suppressed    report.Suppressed `json:"suppressed"`
	// Warnings are the report's: a field from an offline heuristic, the
	// languages its plugin does not read, conversations without an
	// assistant turn.
	Warnings []string `json:"warnings,omitempty"`
}

// FieldView is a field's (or metadata key's) distribution.
type FieldView struct {
	Name       string                 `json:"name"`
	Kind       string                 `json:"kind"`
	Annotated  int                    `json:"annotated"`
	Distinct   int                    `json:"distinct"`
	Values     []ValueView            `json:"values"`
	Suppressed report.SuppressedItems `json:"suppressed"`
}

// ValueView is one value with its count and the URL of its conversations
// ("" in aggregate-only mode).
type ValueView struct {
	Value string  `json:"value"`
	Count int     `json:"count"`
	Share float64 `json:"share"`
	URL   string  `json:"url,omitempty"`
}

// NodeView is a taxonomy tree node.
type NodeView struct {
	Name          string      `json:"name"`
	Conversations int         `json:"conversations"`
	Share         float64     `json:"share"`
	URL           string      `json:"url,omitempty"`
	Children      []*NodeView `json:"children,omitempty"`
	Suppressed    int         `json:"suppressed,omitempty"`
	More          int         `json:"more,omitempty"`
}

// HeatView is a heatmap of residuals with its numbers.
type HeatView struct {
	Table    string           `json:"table"`
	Rows     string           `json:"rows"`
	Cols     string           `json:"cols"`
	Summary  analysis.Summary `json:"summary"`
	Contexts []string         `json:"contexts"`
	Lines    []HeatLine       `json:"lines"`
	Hidden   [2]int           `json:"hidden_values_contexts"`
	// Degenerate, when set, says why the table has nothing to test; it is
	// shown instead of the table, as in the report.
	Degenerate string `json:"degenerate,omitempty"`
}

// HeatLine is a heatmap's row: a value in each context.
type HeatLine struct {
	Value string      `json:"value"`
	Count float64     `json:"count"`
	URL   string      `json:"url,omitempty"`
	Cells []*HeatCell `json:"cells"`
}

// HeatCell is one (value, context) cell; nil under the privacy floor.
type HeatCell struct {
	report.Cell
	Context string `json:"context"`
	URL     string `json:"url,omitempty"`
	Class   string `json:"-"`
}

// PairView is the agreement of this run (A) with another (B).
type PairView struct {
	B       *RunRef         `json:"b"`
	Sharing compare.Sharing `json:"sharing"`
	Fields  []PairField     `json:"fields"`
	URL     string          `json:"url,omitempty"`
}

// PairField is one field's agreement between A and B.
type PairField struct {
	Field         string          `json:"field"`
	Label         bool            `json:"label"`
	Conversations int             `json:"conversations"`
	Identical     int             `json:"identical"`
	MeanJaccard   analysis.Number `json:"mean_jaccard"`
	Kappa         analysis.Number `json:"kappa"`
	URL           string          `json:"url,omitempty"`
}

func (e *Explorer) link(r *Run, path string, q url.Values) string {
	if !e.opts.Text {
		return ""
	}
	u := "/r/" + url.PathEscape(r.Slug) + "/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (e *Explorer) overview(w http.ResponseWriter, req *http.Request, r *Run) (string, string, any, error) {
	d, err := e.data(req.Context(), r)
	if err != nil {
		return "", "", nil, err
	}
	ov := Overview{Conversations: d.Run.Conversations, Floor: d.Floor, Suppressed: d.Suppressed}
	if d.Coverage != nil {
		ov.Warnings = d.Coverage.Warnings
	}
	for _, f := range d.Fields {
		ov.Fields = append(ov.Fields, e.fieldView(r, f, "field"))
	}
	for _, f := range d.Contexts {
		ov.Contexts = append(ov.Contexts, e.fieldView(r, f, "meta"))
	}
	if d.Taxonomy != nil {
		ov.Taxonomy = d.Taxonomy.Summary()
	}
	if d.Tree != nil {
		ov.Tree = e.nodeView(r, d, d.Tree, nil)
	}
	for _, h := range d.Heatmaps {
		ov.Heatmaps = append(ov.Heatmaps, e.heatView(r, d, h))
	}
	if d.Compare != nil {
		for k, p := range d.Compare.Pairs {
			if k+1 >= len(e.runs) {
				break
			}
			b := e.runs[k+1]
			pv := PairView{B: b.ref(), Sharing: p.Sharing, URL: e.link(r, "disagree", url.Values{"with": {b.Slug}})}
			for _, f := range p.Fields {
				pf := PairField{Field: f.Field, Label: f.Label}
				if a := f.Agreement; a != nil {
					pf.Conversations, pf.Identical, pf.MeanJaccard, pf.Kappa = a.Conversations, a.Identical, a.MeanJaccard, a.Kappa
				}
				pf.URL = e.link(r, "disagree", url.Values{"with": {b.Slug}, "field": {f.Field}})
				pv.Fields = append(pv.Fields, pf)
			}
			ov.Compare = append(ov.Compare, pv)
		}
	}
	return d.Title, "overview.html", ov, nil
}

func (e *Explorer) fieldView(r *Run, f *report.Distribution, kind string) FieldView {
	fv := FieldView{Name: f.Name, Kind: f.Kind, Annotated: f.Annotated, Distinct: f.Distinct, Suppressed: f.Suppressed}
	for _, v := range f.Values {
		q := url.Values{"field": {f.Name}, "value": {v.Value}}
		if kind == "meta" {
			q = url.Values{"meta": {f.Name + "=" + v.Value}}
		}
		fv.Values = append(fv.Values, ValueView{Value: v.Value, Count: v.Count, Share: v.Share, URL: e.link(r, "conversations", q)})
	}
	return fv
}

// nodeView is a tree node with the URL of its conversations: a value of a
// field listed flat, or a cluster (node=PATH, the names from the root's
// child down, see nodePath: a name stays when counts change, an index in
// children sorted by count would not).
func (e *Explorer) nodeView(r *Run, d *report.Data, n *report.Node, path []string) *NodeView {
	nv := &NodeView{Name: n.Name, Conversations: n.Conversations, Share: n.Share, Suppressed: n.Suppressed, More: n.More}
	if len(path) > 0 && treeField(d) != "" {
		nv.URL = e.link(r, "conversations", url.Values{"field": {treeField(d)}, "node": {nodePath(path)}})
	} else if len(path) > 1 && len(n.Children) == 0 {
		// A flat tree: root, field, value.
		nv.URL = e.link(r, "conversations", url.Values{"field": {path[0]}, "value": {n.Name}})
	}
	for _, c := range n.Children {
		nv.Children = append(nv.Children, e.nodeView(r, d, c, append(slices.Clip(path), c.Name)))
	}
	return nv
}

// nodePath is a node's names joined by "/", each path-escaped (a "/" in a
// name is %2F): node=Epistemic/Honesty.
func nodePath(names []string) string {
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = url.PathEscape(n)
	}
	return strings.Join(esc, "/")
}

// findNode is the node of root a nodePath names, or nil.
func findNode(root *report.Node, path string) *report.Node {
	n := root
	for _, seg := range strings.Split(path, "/") {
		name, err := url.PathUnescape(seg)
		if err != nil {
			return nil
		}
		i := slices.IndexFunc(n.Children, func(c *report.Node) bool { return c.Name == name })
		if i < 0 {
			return nil
		}
		n = n.Children[i]
	}
	return n
}

// treeField is the field placed on the run's taxonomy ("" when the tree is
// each field's values, flat).
func treeField(d *report.Data) string {
	if d.Taxonomy == nil || d.Taxonomy.Source == report.TreeFlat {
		return ""
	}
	return d.Taxonomy.Field
}

func (e *Explorer) heatView(r *Run, d *report.Data, h *report.Heatmap) HeatView {
	hv := HeatView{Table: h.Table, Rows: h.Rows, Cols: h.Cols, Summary: h.Summary, Contexts: h.Contexts,
		Hidden: [2]int{h.HiddenValues, h.HiddenContexts}, Degenerate: h.Degenerate()}
	for i, v := range h.Values {
		line := HeatLine{Value: v, Count: h.ValueCounts[i],
			URL: e.link(r, "conversations", url.Values{"field": {h.Rows}, "value": {v}})}
		for j, c := range h.Cells[i] {
			if c == nil {
				line.Cells = append(line.Cells, nil)
				continue
			}
			hc := &HeatCell{Cell: *c, Context: h.Contexts[j],
				URL: e.link(r, "conversations", url.Values{"field": {h.Rows}, "value": {v}, "col": {h.Cols}, "cv": {h.Contexts[j]}})}
			switch res := float64(c.Residual); {
			case c.Significant && res > 0:
				hc.Class = "pos sig"
			case c.Significant:
				hc.Class = "neg sig"
			case res > 2:
				hc.Class = "pos"
			case res < -2:
				hc.Class = "neg"
			}
			line.Cells = append(line.Cells, hc)
		}
		hv.Lines = append(hv.Lines, line)
	}
	return hv
}

// heatCell finds the numbers of a (value, context) cell of a table of
// rows field by cols, when a heatmap shows it.
func heatCell(d *report.Data, rows, value, cols, ctx string) *report.Cell {
	for _, h := range d.Heatmaps {
		if h.Rows != rows || h.Cols != cols {
			continue
		}
		for i, v := range h.Values {
			if v != value {
				continue
			}
			for j, c := range h.Contexts {
				if c == ctx {
					return h.Cells[i][j]
				}
			}
		}
	}
	return nil
}

// fieldKind is the kind of a field of the run ("label", "items"), "" when
// it has none of that name.
func fieldKind(d *report.Data, name string) string {
	for _, f := range d.Fields {
		if f.Name == name {
			return f.Kind
		}
	}
	return ""
}

func fieldStage(d *report.Data, name string) string {
	for _, f := range d.Fields {
		if f.Name == name {
			return f.Stage
		}
	}
	return ""
}

func parseAfter(req *http.Request) (int64, error) {
	s := req.URL.Query().Get("after")
	if s == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badRequest("after=%q: want a conversation's position (an integer)", s)
	}
	return n, nil
}

func fmtShare(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"pct":  fmtShare,
	"join": strings.Join,
	"num": func(x any) string {
		switch v := x.(type) {
		case analysis.Number:
			return analysis.FormatFloat(float64(v))
		case float64:
			return analysis.FormatFloat(v)
		case int:
			return strconv.Itoa(v)
		}
		return fmt.Sprint(x)
	},
	"ints": func(ns []int) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = strconv.Itoa(n)
		}
		return out
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}
