package explore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/valuename"
)

// read runs fn in one read transaction over the index and every attached
// store: what it reads is one consistent snapshot, even of a run being
// written.
func (e *Explorer) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var rd *reader
	select {
	case rd = <-e.readers:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { e.readers <- rd }()
	for _, r := range e.runs {
		if err := e.attach(ctx, rd, r); err != nil {
			return err
		}
	}
	tx, err := rd.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// rawValues maps the normalised names of an item field's values to the
// values as the run stores them (a table's rows are normalised names).
func (e *Explorer) rawValues(ctx context.Context, tx *sql.Tx, r *Run, field string) (map[string][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.raw[field]; m != nil {
		return m, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT value FROM `+r.alias+`.annotations WHERE field = ?`, field)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string][]string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		k := valuename.Key(v)
		m[k] = append(m[k], v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r.raw == nil {
		r.raw = map[string]map[string][]string{}
	}
	r.raw[field] = m
	return m, nil
}

// valuesOf are the stored values a link's value stands for: a label as it
// is; an item value, every stored spelling of its normalised name.
func (e *Explorer) valuesOf(ctx context.Context, tx *sql.Tx, r *Run, d *report.Data, field, value string) ([]string, error) {
	switch fieldKind(d, field) {
	case "":
		return nil, notFound("run %s has no field %q", r.Slug, field)
	case "label":
		var ok bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+r.alias+`.annotations WHERE field = ? AND value = ?)`, field, value).Scan(&ok)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound("run %s has no label %q of %s", r.Slug, value, field)
		}
		return []string{value}, nil
	}
	m, err := e.rawValues(ctx, tx, r, field)
	if err != nil {
		return nil, err
	}
	vs := m[valuename.Key(value)]
	if len(vs) == 0 {
		return nil, notFound("run %s has no value %q of %s", r.Slug, value, field)
	}
	return vs, nil
}

// List is a page of conversations.
type List struct {
	// What says what the list is of.
	What  []string `json:"what"`
	Query string   `json:"q,omitempty"`
	// Cell: the numbers of the (value, context) cell listed, when a
	// heatmap shows it.
	Cell          *report.Cell `json:"cell,omitempty"`
	Conversations []ConvRow    `json:"conversations"`
	// Next is the URL of the next page ("" on the last).
	Next  string      `json:"next,omitempty"`
	Index IndexStatus `json:"index"`
	// Form: the filters as given, for the search form.
	Form url.Values `json:"-"`
}

// ConvRow is one conversation of a list.
type ConvRow struct {
	Seq     int64  `json:"seq"`
	ID      string `json:"id"`
	Source  string `json:"source"`
	Snippet string `json:"snippet,omitempty"`
	URL     string `json:"url"`
}

// where builds the SQL conditions of a list's filters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func jsonList(vs []string) string {
	b, _ := json.Marshal(vs)
	return string(b)
}

// hasValues is the condition that conversation c has an annotation of
// field with one of the values.
func hasValues(alias string) string {
	return `EXISTS (SELECT 1 FROM ` + alias + `.annotations a WHERE a.seq = c.seq AND a.field = ? AND a.value IN (SELECT value FROM json_each(?)))`
}

func (e *Explorer) conversations(w http.ResponseWriter, req *http.Request, r *Run) (string, string, any, error) {
	ctx := req.Context()
	d, err := e.data(ctx, r)
	if err != nil {
		return "", "", nil, err
	}
	q := req.URL.Query()
	after, err := parseAfter(req)
	if err != nil {
		return "", "", nil, err
	}
	list := &List{Query: q.Get("q"), Form: q, Index: e.Status(), Conversations: []ConvRow{}}
	var wh where
	err = e.read(ctx, func(tx *sql.Tx) error {
		field := q.Get("field")
		if v := q.Get("value"); v != "" || q.Has("value") {
			vs, err := e.valuesOf(ctx, tx, r, d, field, v)
			if err != nil {
				return err
			}
			wh.add(hasValues(r.alias), field, jsonList(vs))
			list.What = append(list.What, fmt.Sprintf("%s = %s", field, v))
		}
		if path := q.Get("node"); path != "" {
			vs, name, err := e.nodeValues(ctx, tx, r, d, field, path)
			if err != nil {
				return err
			}
			wh.add(hasValues(r.alias), field, jsonList(vs))
			list.What = append(list.What, fmt.Sprintf("%s in the cluster %q (%d values)", field, name, len(vs)))
		}
		if col := q.Get("col"); col != "" {
			cv := q.Get("cv")
			switch {
			case fieldKind(d, col) != "":
				vs, err := e.valuesOf(ctx, tx, r, d, col, cv)
				if err != nil {
					return err
				}
				wh.add(hasValues(r.alias), col, jsonList(vs))
			case col == "source":
				wh.add(`c.source = ?`, cv)
			case strings.HasPrefix(col, "meta.") && col != "meta.":
				wh.add(metaCond, strings.TrimPrefix(col, "meta."), cv)
			default:
				return notFound("run %s has no field or context %q (a field, source or meta.KEY)", r.Slug, col)
			}
			list.What = append(list.What, fmt.Sprintf("in context %s = %s", col, cv))
			list.Cell = heatCell(d, field, q.Get("value"), col, cv)
		}
		for _, m := range q["meta"] {
			k, v, ok := strings.Cut(m, "=")
			if !ok || k == "" {
				return badRequest("meta=%q: want KEY=VALUE", m)
			}
			wh.add(metaCond, k, v)
			list.What = append(list.What, fmt.Sprintf("metadata %s = %s", k, v))
		}
		if s := q.Get("source"); s != "" {
			wh.add(`c.source = ?`, s)
			list.What = append(list.What, "source "+s)
		}
		if t := strings.TrimSpace(q.Get("q")); t != "" {
			if i := strings.IndexFunc(t, unicode.IsControl); i >= 0 {
				return badRequest("q: the text searched has a control character (%U at byte %d): search for printable text", []rune(t[i:])[0], i)
			}
			if !utf8.ValidString(t) {
				return badRequest("q: the text searched is not valid UTF-8")
			}
			wh.add(textCond(t))
			list.What = append(list.What, fmt.Sprintf("text containing %q", t))
		}
		return e.listRows(ctx, tx, r, wh, after, list, q)
	})
	if err != nil {
		return "", "", nil, err
	}
	if len(list.What) == 0 {
		list.What = []string{"all conversations"}
	}
	return "conversations of " + r.Name, "conversations.html", list, nil
}

// textCond is the condition that a conversation's text contains t (case
// folded for ASCII): one FTS5 phrase of what the user typed, never its
// syntax; the trigram index cannot find fewer than three characters, so a
// shorter t is a LIKE over the turns' text (a scan: short searches are
// slow, but find).
func textCond(t string) (string, any) {
	if utf8.RuneCountInString(t) >= 3 {
		return `EXISTS (SELECT 1 FROM texts t WHERE t.source = c.source AND t.cid = c.id AND t.id IN (SELECT rowid FROM fts WHERE fts MATCH ?))`,
			`"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(t) + "%"
	return `EXISTS (SELECT 1 FROM texts t, json_each(t.turns) j WHERE t.source = c.source AND t.cid = c.id AND json_extract(j.value, '$.content') LIKE ? ESCAPE '\')`, like
}

// metaCond matches a scalar metadata value as text.
const metaCond = `EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(c.meta_json) THEN c.meta_json ELSE '{}' END) m WHERE m.key = ? AND CAST(m.value AS TEXT) = ?)`

func (e *Explorer) listRows(ctx context.Context, tx *sql.Tx, r *Run, wh where, after int64, list *List, q url.Values) error {
	cond := "c.seq > ?"
	args := []any{after}
	for _, c := range wh.conds {
		cond += " AND " + c
	}
	args = append(args, wh.args...)
	args = append(args, PageSize+1)
	rows, err := tx.QueryContext(ctx, `
		SELECT c.seq, c.id, c.source,
			coalesce((SELECT substr(json_extract(t.turns, '$[0].content'), 1, 200) FROM texts t WHERE t.source = c.source AND t.cid = c.id), '')
		FROM `+r.alias+`.conversations c WHERE `+cond+` ORDER BY c.seq LIMIT ?`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c ConvRow
		if err := rows.Scan(&c.Seq, &c.ID, &c.Source, &c.Snippet); err != nil {
			return err
		}
		if len(list.Conversations) == PageSize {
			next := cloneValues(q)
			next.Set("after", strconv.FormatInt(list.Conversations[PageSize-1].Seq, 10))
			list.Next = e.link(r, "conversations", next)
			break
		}
		c.URL = e.link(r, "conversation", url.Values{"source": {c.Source}, "id": {c.ID}})
		list.Conversations = append(list.Conversations, c)
	}
	return rows.Err()
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// nodeValues are the stored values under a node of the run's taxonomy
// (path: its names from the top, see nodePath): the values named as its
// leaves (by normalised name) and those placed on them by embedding.
func (e *Explorer) nodeValues(ctx context.Context, tx *sql.Tx, r *Run, d *report.Data, field, path string) ([]string, string, error) {
	if tf := treeField(d); tf == "" || tf != field {
		return nil, "", notFound("run %s has no taxonomy of field %q", r.Slug, field)
	}
	n := findNode(d.Tree, path)
	if n == nil {
		return nil, "", notFound("run %s has no taxonomy node %q (names from the top, joined by /)", r.Slug, path)
	}
	m, err := e.rawValues(ctx, tx, r, field)
	if err != nil {
		return nil, "", err
	}
	seen := map[string]bool{}
	var out []string
	var walk func(*report.Node)
	walk = func(n *report.Node) {
		names := n.Matched
		if len(n.Children) == 0 {
			names = append([]string{n.Name}, names...)
		}
		for _, name := range names {
			for _, v := range m[valuename.Key(name)] {
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	sort.Strings(out)
	return out, n.Name, nil
}

// ConvPage is one conversation whole, with the annotations of its run (A)
// and, when asked, of another run over the same conversation (B).
type ConvPage struct {
	ID     string      `json:"id"`
	Source string      `json:"source"`
	Seq    int64       `json:"seq"`
	Meta   [][2]string `json:"meta"`
	Turns  []TurnView  `json:"turns"`
	// TextNote says why the text is not shown, or that it changed since
	// the run.
	TextNote string    `json:"text_note,omitempty"`
	A        *SideView `json:"a"`
	B        *SideView `json:"b,omitempty"`
}

// SideView is one run's annotations of the conversation.
type SideView struct {
	Run         *RunRef     `json:"run"`
	Missing     bool        `json:"missing,omitempty"` // the run does not have the conversation
	Annotations []AnnView   `json:"annotations"`
	Stages      []StageView `json:"stages"`
}

// StageView is a stage's outcome for the conversation.
type StageView struct {
	Stage string `json:"stage"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// AnnView is one annotation.
type AnnView struct {
	N        int         `json:"n"`
	Side     string      `json:"side"`
	Stage    string      `json:"stage"`
	Field    string      `json:"field"`
	Value    string      `json:"value"`
	Label    bool        `json:"label"`
	Attrs    [][2]string `json:"attrs,omitempty"`
	Evidence string      `json:"evidence,omitempty"`
	// Found: the evidence was found in the text (and is highlighted).
	Found  bool   `json:"found"`
	Anchor string `json:"anchor,omitempty"`
	URL    string `json:"url,omitempty"` // the value's conversations

	turn int // the turn the evidence is from (attribute "turn"), or -1
}

// TurnView is one turn, cut into highlighted segments.
type TurnView struct {
	Role     string    `json:"role"`
	Segments []Segment `json:"segments"`
}

func (e *Explorer) conversation(w http.ResponseWriter, req *http.Request, r *Run) (string, string, any, error) {
	ctx := req.Context()
	q := req.URL.Query()
	source, id := q.Get("source"), q.Get("id")
	if !q.Has("id") || !q.Has("source") {
		return "", "", nil, badRequest("a conversation is named by source=...&id=...")
	}
	var other *Run
	if s := q.Get("with"); s != "" {
		if other = e.bySlug[s]; other == nil || other == r {
			return "", "", nil, notFound("no other run %q here", s)
		}
	}
	da, err := e.data(ctx, r)
	if err != nil {
		return "", "", nil, err
	}
	var db *report.Data
	if other != nil {
		if db, err = e.data(ctx, other); err != nil {
			return "", "", nil, err
		}
	}
	p := &ConvPage{ID: id, Source: source}
	var turns []conversation.Turn
	err = e.read(ctx, func(tx *sql.Tx) error {
		var sha, meta string
		err := tx.QueryRowContext(ctx, `SELECT seq, content_sha, meta_json FROM `+r.alias+`.conversations WHERE source = ? AND id = ?`, source, id).
			Scan(&p.Seq, &sha, &meta)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("run %s has no conversation %q from %s", r.Slug, id, source)
		}
		if err != nil {
			return err
		}
		p.Meta = metaPairs(meta)
		n := 0
		if p.A, err = e.side(ctx, tx, r, da, p.Seq, "a", &n); err != nil {
			return err
		}
		if other != nil {
			var seqB int64
			err := tx.QueryRowContext(ctx, `SELECT seq FROM `+other.alias+`.conversations WHERE source = ? AND id = ?`, source, id).Scan(&seqB)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				p.B = &SideView{Run: other.ref(), Missing: true}
			case err != nil:
				return err
			default:
				if p.B, err = e.side(ctx, tx, other, db, seqB, "b", &n); err != nil {
					return err
				}
			}
		}
		var tsha, tjs string
		err = tx.QueryRowContext(ctx, `SELECT sha, turns FROM texts WHERE source = ? AND cid = ?`, source, id).Scan(&tsha, &tjs)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if st := e.Status(); st.Done {
				p.TextNote = "This conversation is not in the run's dataset as it is now: its text cannot be shown."
				if st.Error != "" {
					p.TextNote = "The text index failed: " + st.Error
				}
			} else {
				p.TextNote = fmt.Sprintf("The text is being read from the run's dataset (%d conversations so far): reload in a moment.", st.Read)
			}
		case err != nil:
			return err
		default:
			if err := json.Unmarshal([]byte(tjs), &turns); err != nil {
				return fmt.Errorf("the text index's conversation %s: %w", id, err)
			}
			if tsha != sha {
				p.TextNote = "This conversation changed in the dataset since the run: the text shown is not the text annotated."
			}
		}
		return nil
	})
	if err != nil {
		return "", "", nil, err
	}
	var quotes []quote
	for _, s := range []*SideView{p.A, p.B} {
		if s == nil {
			continue
		}
		for _, a := range s.Annotations {
			if a.Evidence != "" {
				quotes = append(quotes, quote{n: a.N, side: a.Side, text: a.Evidence, role: quoteRole(a.Field), turn: a.turn})
			}
		}
	}
	anchored := map[int]bool{}
	found := map[int]bool{}
	placed := placeQuotes(turns, quotes)
	for i, t := range turns {
		segs, f := highlight(t.Content, placed[i], anchored)
		for n := range f {
			found[n] = true
		}
		p.Turns = append(p.Turns, TurnView{Role: t.Role, Segments: segs})
	}
	for _, s := range []*SideView{p.A, p.B} {
		if s == nil {
			continue
		}
		for i := range s.Annotations {
			a := &s.Annotations[i]
			a.Found = found[a.N]
			if a.Found {
				a.Anchor = anchorOf(a.N)
			}
		}
	}
	return "conversation " + id, "conversation.html", p, nil
}

// side reads run r's annotations and stage outcomes of conversation seq,
// numbering the annotations on from *n.
func (e *Explorer) side(ctx context.Context, tx *sql.Tx, r *Run, d *report.Data, seq int64, side string, n *int) (*SideView, error) {
	sv := &SideView{Run: r.ref(), Annotations: []AnnView{}}
	rows, err := tx.QueryContext(ctx, `
		SELECT a.stage, a.field, a.value, a.attrs_json FROM `+r.alias+`.annotations a
		JOIN `+r.alias+`.stages s ON s.name = a.stage
		WHERE a.seq = ? ORDER BY s.position, a.ord`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a AnnView
		var attrs string
		if err := rows.Scan(&a.Stage, &a.Field, &a.Value, &attrs); err != nil {
			return nil, err
		}
		*n++
		a.N, a.Side, a.turn = *n, side, -1
		a.Label = fieldKind(d, a.Field) == "label"
		if !a.Label && attrs != "" {
			var m map[string]any
			if json.Unmarshal([]byte(attrs), &m) == nil {
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if s, ok := m[k].(string); ok && k == "evidence" {
						a.Evidence = s
						continue
					}
					if k == "turn" {
						if t, err := strconv.Atoi(fmt.Sprint(m[k])); err == nil && t >= 0 {
							a.turn = t
						}
					}
					a.Attrs = append(a.Attrs, [2]string{k, fmt.Sprint(m[k])})
				}
			}
		}
		a.URL = e.link(r, "conversations", url.Values{"field": {a.Field}, "value": {a.Value}})
		sv.Annotations = append(sv.Annotations, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rs, err := tx.QueryContext(ctx, `
		SELECT r.stage, r.status, r.error FROM `+r.alias+`.results r
		JOIN `+r.alias+`.stages s ON s.name = r.stage WHERE r.seq = ? ORDER BY s.position`, seq)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var st StageView
		var status string
		if err := rs.Scan(&st.Stage, &status, &st.Error); err != nil {
			return nil, err
		}
		st.OK = status == "ok"
		sv.Stages = append(sv.Stages, st)
	}
	return sv, rs.Err()
}

// metaPairs lists a conversation's metadata, keys sorted, values as JSON
// text when not strings.
func metaPairs(js string) [][2]string {
	var m map[string]any
	if json.Unmarshal([]byte(js), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		v, ok := m[k].(string)
		if !ok {
			b, _ := json.Marshal(m[k])
			v = string(b)
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// scanPairs bounds the shared conversations one disagreement page reads,
// so that a page answers quickly however rare disagreements are; the page
// then links on from where it stopped.
const scanPairs = 20000

// Disagreements lists the conversations two runs annotate differently.
type Disagreements struct {
	B      *RunRef  `json:"b"`
	Fields []string `json:"fields"`
	// Scanned: shared conversations read for this page (annotated by both
	// runs' stages or not); Compared: those both runs annotated.
	Scanned       int            `json:"scanned"`
	Compared      int            `json:"compared"`
	Conversations []Disagreement `json:"conversations"`
	Next          string         `json:"next,omitempty"`
}

// Disagreement is one conversation the runs disagree on.
type Disagreement struct {
	ID     string      `json:"id"`
	Source string      `json:"source"`
	Seq    int64       `json:"seq"`
	URL    string      `json:"url"`
	Fields []FieldDiff `json:"fields"`
}

// FieldDiff is one field's values in each run, where they differ.
type FieldDiff struct {
	Field string   `json:"field"`
	A     []string `json:"a"`
	B     []string `json:"b"`
}

func (e *Explorer) disagree(w http.ResponseWriter, req *http.Request, r *Run) (string, string, any, error) {
	ctx := req.Context()
	q := req.URL.Query()
	other := e.bySlug[q.Get("with")]
	if other == nil || other == r {
		return "", "", nil, notFound("no other run %q here to compare with (with=RUN)", q.Get("with"))
	}
	after, err := parseAfter(req)
	if err != nil {
		return "", "", nil, err
	}
	da, err := e.data(ctx, r)
	if err != nil {
		return "", "", nil, err
	}
	db, err := e.data(ctx, other)
	if err != nil {
		return "", "", nil, err
	}
	out := &Disagreements{B: other.ref(), Conversations: []Disagreement{}}
	for _, f := range da.Fields {
		if fieldKind(db, f.Name) == f.Kind && (q.Get("field") == "" || q.Get("field") == f.Name) {
			out.Fields = append(out.Fields, f.Name)
		}
	}
	if len(out.Fields) == 0 {
		return "", "", nil, notFound("runs %s and %s share no field %q", r.Slug, other.Slug, q.Get("field"))
	}
	// Pairs as package compare matches them: same source, id and content.
	sel := `SELECT a.seq, a.source, a.id`
	var args []any
	for _, f := range out.Fields {
		for _, s := range []struct {
			alias, seq, stage string
		}{{r.alias, "a.seq", fieldStage(da, f)}, {other.alias, "b.seq", fieldStage(db, f)}} {
			sel += `, (SELECT status FROM ` + s.alias + `.results WHERE seq = ` + s.seq + ` AND stage = ?)` +
				`, (SELECT json_group_array(value) FROM ` + s.alias + `.annotations WHERE seq = ` + s.seq + ` AND stage = ? AND field = ?)`
			args = append(args, s.stage, s.stage, f)
		}
	}
	args = append(args, after, scanPairs)
	query := sel + ` FROM ` + r.alias + `.conversations a JOIN ` + other.alias + `.conversations b
		ON b.source = a.source AND b.id = a.id AND b.content_sha = a.content_sha
		WHERE a.seq > ? ORDER BY a.seq LIMIT ?`
	last := int64(-1)
	err = e.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		nf := len(out.Fields)
		vals := make([]sql.NullString, 4*nf)
		dest := make([]any, 3+4*nf)
		for i := range vals {
			dest[3+i] = &vals[i]
		}
		for rows.Next() {
			var d Disagreement
			dest[0], dest[1], dest[2] = &d.Seq, &d.Source, &d.ID
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			out.Scanned++
			last = d.Seq
			compared := false
			for k, f := range out.Fields {
				sa, va, sb, vb := vals[4*k], vals[4*k+1], vals[4*k+2], vals[4*k+3]
				if sa.String != "ok" || sb.String != "ok" {
					continue
				}
				compared = true
				label := fieldKind(da, f) == "label"
				a, b := valueSet(va.String, label), valueSet(vb.String, label)
				if !slices.Equal(a, b) {
					d.Fields = append(d.Fields, FieldDiff{Field: f, A: a, B: b})
				}
			}
			if compared {
				out.Compared++
			}
			if len(d.Fields) > 0 {
				d.URL = e.link(r, "conversation", url.Values{"source": {d.Source}, "id": {d.ID}, "with": {other.Slug}})
				out.Conversations = append(out.Conversations, d)
				if len(out.Conversations) == PageSize {
					break
				}
			}
		}
		return rows.Err()
	})
	if err != nil {
		return "", "", nil, err
	}
	if out.Scanned == scanPairs || len(out.Conversations) == PageSize {
		next := cloneValues(q)
		next.Set("after", strconv.FormatInt(last, 10))
		out.Next = e.link(r, "disagree", next)
	}
	return fmt.Sprintf("%s and %s: where they disagree", r.Name, other.Name), "disagree.html", out, nil
}

// valueSet is a JSON array of stored values as a sorted set: labels as they
// are, items by normalised name (as compare counts them).
func valueSet(js string, label bool) []string {
	var vs []string
	json.Unmarshal([]byte(js), &vs)
	seen := map[string]bool{}
	out := []string{}
	for _, v := range vs {
		if !label {
			v = valuename.Key(v)
		}
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
