package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// DefaultUserKeys are the conversation metadata keys that name a user, in
// the order they are looked for: the first one a conversation has is its
// user (WildChat's hashed_ip, a log's user or user_id).
var DefaultUserKeys = []string{"user_id", "user", "hashed_ip", "user_hash", "ip_hash"}

// Run is a run folder's results, read into memory for analysis.
type Run struct {
	Dir           string
	Conversations []Conversation
	// Fields in stage order, then by name.
	Fields []*Field
	// MetaKeys are the scalar top-level metadata keys, sorted.
	MetaKeys []string
	// UserKey is the metadata key users were read from ("" when the data
	// has none; then the user floor does not apply).
	UserKey string
	// N is the number of conversations (len(Conversations) when LoadRun
	// read them; OpenRun leaves Conversations nil and Each streams them).
	N int

	summary
	// stream: how Each reads a run opened by OpenRun.
	stream *streamSource
}

// Conversation is a conversation as the run store knows it.
type Conversation struct {
	Seq        int64
	ID, Source string
	ContentSHA string
	// Meta holds the scalar metadata values as text (numbers as the JSON
	// has them, booleans as true/false).
	Meta map[string]string
	// User is the conversation's user ("" when unknown).
	User string
}

// Field is one annotation field of a run: a classifier's label or an
// extractor's list of items.
type Field struct {
	Name, Stage string
	// Label: the field is a classifier's label (one value per conversation).
	Label bool
	// Done[i]: the stage finished for conversation i without error, so its
	// items (possibly none) are its answer.
	Done []bool
	// Items[i] are conversation i's annotations of this field, in order.
	Items [][]Item
	// Annotated is the number of conversations with Done; Errors, those
	// whose stage failed.
	Annotated, Errors int
	// idx is the field's place in Run.Fields (a Conv's fields by index).
	idx int
}

// Item is one annotation.
type Item struct {
	Value string
	// Attrs is the annotation's attributes as JSON ("" when none; the label
	// mark is removed).
	Attrs string
}

// Values returns conversation i's distinct values (in order of first
// appearance), in time linear in its items: a plugin may answer a
// thousand items a conversation, and a run may hold more.
func (f *Field) Values(i int) []string { return distinctValues(f.Items[i]) }

// smallList is the longest list distinct searches rather than hashes: for
// the usual handful of values a search is faster than a map.
const smallList = 16

// distinct removes repeats from a list as it is built, keeping the first of
// each: a list of at most smallList values is searched, a longer one gets a
// set, so that the cost stays linear (a conversation with 100k items took
// minutes to report while every value was searched for among the others).
type distinct struct{ seen map[string]struct{} }

// newDistinct is a distinct for a list of at most n values.
func newDistinct(n int) distinct {
	if n <= smallList {
		return distinct{}
	}
	return distinct{seen: make(map[string]struct{}, n)}
}

// add appends v to out, a list built with this distinct, unless out has it.
func (d distinct) add(out []string, v string) []string {
	if d.seen == nil {
		if slices.Contains(out, v) {
			return out
		}
		return append(out, v)
	}
	if _, ok := d.seen[v]; ok {
		return out
	}
	d.seen[v] = struct{}{}
	return append(out, v)
}

// LoadOptions control LoadRun.
type LoadOptions struct {
	// UserKeys are the metadata keys that name a user (nil: DefaultUserKeys).
	UserKeys []string
	// Attrs keeps each item's attributes (evidence...); otherwise dropped.
	Attrs bool
}

// LoadRun reads a run folder's conversations and annotations, in one store
// snapshot (consistent even while the run is still writing).
func LoadRun(ctx context.Context, dir string, o LoadOptions) (*Run, error) {
	var run *Run
	_, err := inSnapshot(ctx, dir, func(tx *store.Snapshot) (err error) {
		run, err = loadRun(tx, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	run.Dir = dir
	return run, nil
}

// inSnapshot runs read in one snapshot of run folder dir's store,
// returning the store's file.
func inSnapshot(ctx context.Context, dir string, read func(*store.Snapshot) error) (string, error) {
	f, err := runfolder.Existing(dir)
	if err != nil {
		return "", err
	}
	st, err := store.Open(f.Store())
	if err != nil {
		return "", err
	}
	defer st.Close()
	tx, err := st.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Close()
	if err := read(tx); err != nil {
		return "", fmt.Errorf("reading run %s: %w", dir, err)
	}
	return f.Store(), nil
}

func loadRun(tx *store.Snapshot, o LoadOptions) (*Run, error) {
	userKeys := o.UserKeys
	if userKeys == nil {
		userKeys = DefaultUserKeys
	}
	run := &Run{}
	bySeq := map[int64]int{}
	metaKeys := map[string]bool{}
	userKeyUsed := map[string]bool{}
	convs := tx.Conversations()
	defer convs.Close()
	for convs.Next() {
		sc := convs.Row()
		c := Conversation{Seq: sc.Seq, ID: sc.ID, Source: sc.Source, ContentSHA: sc.ContentSHA}
		var err error
		if c.Meta, err = scalarMeta(sc.MetaJSON); err != nil {
			return nil, fmt.Errorf("conversation %s: metadata: %w", c.ID, err)
		}
		for k := range c.Meta {
			metaKeys[k] = true
		}
		var k string
		if c.User, k = userOf(c.Meta, userKeys); k != "" {
			userKeyUsed[k] = true
		}
		run.summary.add(c)
		bySeq[c.Seq] = len(run.Conversations)
		run.Conversations = append(run.Conversations, c)
	}
	if err := convs.Err(); err != nil {
		return nil, err
	}
	for k := range metaKeys {
		run.MetaKeys = append(run.MetaKeys, k)
	}
	sort.Strings(run.MetaKeys)
	var used []string
	for _, k := range userKeys {
		if userKeyUsed[k] {
			used = append(used, k)
		}
	}
	run.UserKey = strings.Join(used, ",")
	run.N = len(run.Conversations)

	// Stages: position, and per conversation the status.
	pos := map[string]int{}
	stages, err := tx.Stages()
	if err != nil {
		return nil, err
	}
	for _, s := range stages {
		pos[s.Name] = s.Position
	}
	type status struct{ ok, failed []bool }
	stageStatus := map[string]*status{}
	results := tx.Results()
	defer results.Close()
	for results.Next() {
		r := results.Row()
		i, ok := bySeq[r.Seq]
		if !ok {
			continue
		}
		s := stageStatus[r.Stage]
		if s == nil {
			s = &status{make([]bool, len(run.Conversations)), make([]bool, len(run.Conversations))}
			stageStatus[r.Stage] = s
		}
		if r.OK {
			s.ok[i] = true
		} else {
			s.failed[i] = true
		}
	}
	if err := results.Err(); err != nil {
		return nil, err
	}

	// Items are appended per (stage, field), so only their order within a
	// stage's result matters: the store gives it.
	fields := map[[2]string]*Field{}
	anns := tx.Annotations()
	defer anns.Close()
	for anns.Next() {
		a := anns.Row()
		i, ok := bySeq[a.Seq]
		if !ok {
			continue
		}
		key := [2]string{a.Stage, a.Field}
		f := fields[key]
		if f == nil {
			f = &Field{Name: a.Field, Stage: a.Stage, Items: make([][]Item, len(run.Conversations))}
			fields[key] = f
		}
		if a.IsLabel {
			f.Label = true
		}
		attrs := a.AttrsJSON
		if !o.Attrs {
			attrs = ""
		}
		f.Items[i] = append(f.Items[i], Item{Value: a.Value, Attrs: attrs})
	}
	if err := anns.Err(); err != nil {
		return nil, err
	}
	for _, f := range fields {
		if s := stageStatus[f.Stage]; s != nil {
			f.Done = s.ok
			for i := range s.ok {
				if s.ok[i] {
					f.Annotated++
				}
				if s.failed[i] {
					f.Errors++
				}
			}
		} else {
			f.Done = make([]bool, len(run.Conversations))
		}
		run.Fields = append(run.Fields, f)
	}
	slices.SortFunc(run.Fields, func(a, b *Field) int {
		if pa, pb := pos[a.Stage], pos[b.Stage]; pa != pb {
			return pa - pb
		}
		if c := strings.Compare(a.Stage, b.Stage); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for k, f := range run.Fields {
		f.idx = k
	}
	return run, nil
}

// userOf is the user of a conversation with metadata meta: the first of
// keys it has a value for, as "KEY=VALUE" ("" when none), and that key.
func userOf(meta map[string]string, keys []string) (user, key string) {
	for _, k := range keys {
		if v := meta[k]; v != "" {
			return k + "=" + v, k
		}
	}
	return "", ""
}

// scalarMeta reads the scalar top-level values of a metadata object as text.
func scalarMeta(js string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(js) == "" {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// Field returns the field named name: a field name, or "STAGE/FIELD" when
// two stages write fields of one name.
func (r *Run) Field(name string) (*Field, error) {
	var found []*Field
	for _, f := range r.Fields {
		if f.Name == name || f.Stage+"/"+f.Name == name {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no field %q in run %s (fields: %s)", name, r.Dir, strings.Join(r.FieldNames(), ", "))
	}
	var names []string
	for _, f := range found {
		names = append(names, f.Stage+"/"+f.Name)
	}
	return nil, fmt.Errorf("field %q is written by several stages: say which (%s)", name, strings.Join(names, ", "))
}

// FieldNames are the run's field names.
func (r *Run) FieldNames() []string {
	var out []string
	for _, f := range r.Fields {
		out = append(out, f.Name)
	}
	return out
}

// Users reports whether the run's data names users.
func (r *Run) Users() bool { return r.UserKey != "" }
