package analysis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/store"
)

// Conv is one conversation as a pass over a run (Each) gives it: the
// conversation and, for each of the run's fields, whether its stage is done
// and its items. It is valid only during the call it is given to.
type Conv struct {
	Conversation
	done  []bool
	items [][]Item
}

// Done reports whether f's stage finished for the conversation without
// error, so that its items (possibly none) are its answer.
func (c *Conv) Done(f *Field) bool { return c.done[f.idx] }

// Items are the conversation's annotations of f, in order.
func (c *Conv) Items(f *Field) []Item { return c.items[f.idx] }

// Values are the conversation's distinct values of f, in order of first
// appearance (see Field.Values).
func (c *Conv) Values(f *Field) []string { return distinctValues(c.items[f.idx]) }

func distinctValues(items []Item) []string {
	out := make([]string, 0, len(items))
	d := newDistinct(len(items))
	for _, it := range items {
		out = d.add(out, it.Value)
	}
	return out
}

// summary is what a run's analyses need to know of all its conversations
// before a pass, in memory bounded by the distinct metadata values kept:
// for each scalar metadata key, the conversations that have it and its
// first maxSummaryValues+1 distinct values (DefaultTables asks whether a
// key has 2 to 100); the first two distinct sources.
type summary struct {
	meta    map[string]*metaSummary
	sources []string
}

type metaSummary struct {
	have     int
	distinct map[string]bool
}

// maxSummaryValues is the most distinct values of a metadata key a default
// table is made of.
const maxSummaryValues = 100

func (s *summary) add(c Conversation) {
	if s.meta == nil {
		s.meta = map[string]*metaSummary{}
	}
	for k, v := range c.Meta {
		m := s.meta[k]
		if m == nil {
			m = &metaSummary{distinct: map[string]bool{}}
			s.meta[k] = m
		}
		m.have++
		if len(m.distinct) <= maxSummaryValues {
			m.distinct[v] = true
		}
	}
	if len(s.sources) < 2 && !slices.Contains(s.sources, c.Source) {
		s.sources = append(s.sources, c.Source)
	}
}

// streamSource is where Each reads a run opened by OpenRun.
type streamSource struct {
	store    string
	userKeys []string
	attrs    bool
}

// OpenRun reads what a run's analyses need to know before a pass — its
// fields (with their annotated and failed counts), metadata keys, user key
// and number of conversations — without holding its conversations or
// annotations: Each then streams them, one conversation at a time, so that
// memory grows with what a pass keeps (a table's cells), not with the run.
func OpenRun(ctx context.Context, dir string, o LoadOptions) (*Run, error) {
	run := &Run{Dir: dir}
	file, err := inSnapshot(ctx, dir, func(tx *store.Snapshot) error { return openRun(tx, run, o) })
	if err != nil {
		return nil, err
	}
	run.stream = &streamSource{store: file, userKeys: userKeysOf(o), attrs: o.Attrs}
	return run, nil
}

func userKeysOf(o LoadOptions) []string {
	if o.UserKeys == nil {
		return DefaultUserKeys
	}
	return o.UserKeys
}

func openRun(tx *store.Snapshot, run *Run, o LoadOptions) error {
	userKeys := userKeysOf(o)
	userKeyUsed := map[string]bool{}
	convs := tx.ConversationsWithoutHash()
	defer convs.Close()
	for convs.Next() {
		sc := convs.Row()
		c := Conversation{Seq: sc.Seq, ID: sc.ID, Source: sc.Source}
		var err error
		if c.Meta, err = scalarMeta(sc.MetaJSON); err != nil {
			return fmt.Errorf("conversation %s: metadata: %w", c.ID, err)
		}
		if _, k := userOf(c.Meta, userKeys); k != "" {
			userKeyUsed[k] = true
		}
		run.summary.add(c)
		run.N++
	}
	if err := convs.Err(); err != nil {
		return err
	}
	for k := range run.summary.meta {
		run.MetaKeys = append(run.MetaKeys, k)
	}
	slices.Sort(run.MetaKeys)
	var used []string
	for _, k := range userKeys {
		if userKeyUsed[k] {
			used = append(used, k)
		}
	}
	run.UserKey = strings.Join(used, ",")

	fields, err := tx.Fields()
	if err != nil {
		return err
	}
	counts, err := tx.StageCounts()
	if err != nil {
		return err
	}
	for k, fs := range fields {
		f := &Field{Name: fs.Field, Stage: fs.Stage, Label: fs.Label, idx: k}
		for _, c := range counts {
			if c.Stage == fs.Stage {
				f.Annotated, f.Errors = c.OK, c.Failed
			}
		}
		run.Fields = append(run.Fields, f)
	}
	return nil
}

// Each calls fn with each conversation of the run, grouped by user (the
// conversations without one first), in seq order within a user. A run
// opened by OpenRun is read from its store in one snapshot as it goes; one
// LoadRun read is walked in memory in the same order.
func (r *Run) Each(ctx context.Context, fn func(*Conv) error) error {
	if r.stream == nil {
		return r.eachLoaded(fn)
	}
	st, err := store.Open(r.stream.store)
	if err != nil {
		return err
	}
	defer st.Close()
	tx, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	if err := r.eachStored(tx, fn); err != nil {
		return fmt.Errorf("reading run %s: %w", r.Dir, err)
	}
	return nil
}

// Len is the number of conversations of the run.
func (r *Run) Len() int {
	if r.stream == nil {
		return len(r.Conversations)
	}
	return r.N
}

func (r *Run) eachLoaded(fn func(*Conv) error) error {
	for k, f := range r.Fields {
		f.idx = k // a Run made by hand, not by LoadRun, has none
	}
	order := make([]int, len(r.Conversations))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(r.Conversations[a].User, r.Conversations[b].User)
	})
	c := &Conv{done: make([]bool, len(r.Fields)), items: make([][]Item, len(r.Fields))}
	for _, i := range order {
		c.Conversation = r.Conversations[i]
		for k, f := range r.Fields {
			c.done[k], c.items[k] = f.Done[i], f.Items[i]
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (r *Run) eachStored(tx *store.Snapshot, fn func(*Conv) error) error {
	keys := r.stream.userKeys
	if err := tx.OrderBy(func(js string) (string, error) {
		m, err := scalarMeta(js)
		if err != nil {
			return "", err
		}
		u, _ := userOf(m, keys)
		return u, nil
	}); err != nil {
		return err
	}
	fieldIdx := map[[2]string]int{}
	stageFields := map[string][]int{}
	for k, f := range r.Fields {
		fieldIdx[[2]string{f.Stage, f.Name}] = k
		stageFields[f.Stage] = append(stageFields[f.Stage], k)
	}
	convs := tx.OrderedConversations()
	defer convs.Close()
	results := tx.OrderedResults()
	defer results.Close()
	anns := tx.OrderedAnnotations()
	defer anns.Close()
	// The three cursors list conversations in one order: each result and
	// annotation row belongs to the current conversation or a later one.
	haveResult, haveAnn := results.Next(), anns.Next()
	c := &Conv{done: make([]bool, len(r.Fields)), items: make([][]Item, len(r.Fields))}
	for convs.Next() {
		sc := convs.Row()
		c.Conversation = Conversation{Seq: sc.Seq, ID: sc.ID, Source: sc.Source, ContentSHA: sc.ContentSHA, User: sc.Key}
		var err error
		if c.Meta, err = scalarMeta(sc.MetaJSON); err != nil {
			return fmt.Errorf("conversation %s: metadata: %w", sc.ID, err)
		}
		for k := range c.done {
			c.done[k], c.items[k] = false, c.items[k][:0]
		}
		for ; haveResult && results.Row().Seq == sc.Seq; haveResult = results.Next() {
			res := results.Row()
			if res.OK {
				for _, k := range stageFields[res.Stage] {
					c.done[k] = true
				}
			}
		}
		for ; haveAnn && anns.Row().Seq == sc.Seq; haveAnn = anns.Next() {
			a := anns.Row()
			k, ok := fieldIdx[[2]string{a.Stage, a.Field}]
			if !ok {
				continue
			}
			attrs := a.AttrsJSON
			if !r.stream.attrs {
				attrs = ""
			}
			c.items[k] = append(c.items[k], Item{Value: a.Value, Attrs: attrs})
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	for _, err := range []error{convs.Err(), results.Err(), anns.Err()} {
		if err != nil {
			return err
		}
	}
	if haveResult || haveAnn {
		return fmt.Errorf("results or annotations out of the conversations' order (seq %d, %d)", results.Row().Seq, anns.Row().Seq)
	}
	return nil
}

// Find calls fn with a look-up of the run's conversations by source and
// id (nil when the run has none of that key): from one store snapshot for a
// run opened by OpenRun, so that a pass over the dataset again need not
// hold the run's conversations; from memory for one LoadRun read.
func (r *Run) Find(ctx context.Context, fn func(find func(source, id string) (*Conversation, error)) error) error {
	if r.stream == nil {
		byKey := make(map[[2]string]int, len(r.Conversations))
		for i, c := range r.Conversations {
			byKey[[2]string{c.Source, c.ID}] = i
		}
		return fn(func(source, id string) (*Conversation, error) {
			if i, ok := byKey[[2]string{source, id}]; ok {
				return &r.Conversations[i], nil
			}
			return nil, nil
		})
	}
	st, err := store.Open(r.stream.store)
	if err != nil {
		return err
	}
	defer st.Close()
	tx, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	finder, err := tx.Finder()
	if err != nil {
		return fmt.Errorf("reading run %s: %w", r.Dir, err)
	}
	defer finder.Close()
	return fn(func(source, id string) (*Conversation, error) {
		sc, ok, err := finder.Find(source, id)
		if err != nil || !ok {
			return nil, err
		}
		c := &Conversation{Seq: sc.Seq, ID: sc.ID, Source: sc.Source, ContentSHA: sc.ContentSHA}
		if c.Meta, err = scalarMeta(sc.MetaJSON); err != nil {
			return nil, fmt.Errorf("conversation %s: metadata: %w", sc.ID, err)
		}
		c.User, _ = userOf(c.Meta, r.stream.userKeys)
		return c, nil
	})
}

// HasMetaValue reports whether some conversation has a value of key that
// is not blank (of the first maxSummaryValues+1 distinct values seen).
func (r *Run) HasMetaValue(key string) bool {
	if m := r.summary.meta[key]; m != nil {
		for v := range m.distinct {
			if strings.TrimSpace(v) != "" {
				return true
			}
		}
	}
	return false
}
