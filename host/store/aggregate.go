package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
)

// Analyses read a run in passes over its conversations rather than holding
// it in memory (a million conversations held as structs took gigabytes). A
// pass that counts distinct users per cell needs each user's conversations
// together: the ordered cursors below give conversations, results and
// annotations grouped by a key the caller computes from the metadata (the
// user), in one order, so that they can be merged as they stream and a
// counter is kept per cell, not per (cell, user) pair.

// orderKeys holds the key functions of the snapshots ordering by one, by
// id: SQLite calls valuescope_order_key(id, meta_json).
var (
	orderKeys  sync.Map // int64 -> func(string) (string, error)
	orderKeyID atomic.Int64
)

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("valuescope_order_key", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		id, ok := args[0].(int64)
		if !ok {
			return nil, fmt.Errorf("valuescope_order_key: id %v is not an integer", args[0])
		}
		f, ok := orderKeys.Load(id)
		if !ok {
			return nil, fmt.Errorf("valuescope_order_key: no key function %d", id)
		}
		var js string
		switch v := args[1].(type) {
		case string:
			js = v
		case []byte:
			js = string(v)
		case nil:
		default:
			return nil, fmt.Errorf("valuescope_order_key: meta_json is a %T", v)
		}
		return f.(func(string) (string, error))(js)
	})
}

// OrderBy makes the snapshot's ordered cursors (OrderedConversations,
// OrderedResults, OrderedAnnotations) list conversations by key (called once
// per conversation with its metadata JSON), then seq. The keys are kept in a
// temporary table of the snapshot's connection, dropped with the snapshot,
// on disk past SQLite's cache: memory does not grow with the run.
func (sn *Snapshot) OrderBy(key func(metaJSON string) (string, error)) error {
	id := orderKeyID.Add(1)
	orderKeys.Store(id, key)
	defer orderKeys.Delete(id)
	for _, q := range []string{
		`DROP TABLE IF EXISTS temp.conversation_order`,
		`CREATE TEMP TABLE conversation_order (seq INTEGER PRIMARY KEY, k TEXT NOT NULL)`,
		`INSERT INTO temp.conversation_order (seq, k) SELECT seq, valuescope_order_key(?, meta_json) FROM conversations`,
		`CREATE INDEX temp.conversation_order_k ON conversation_order (k, seq)`,
	} {
		var args []any
		if q[0] == 'I' {
			args = []any{id}
		}
		if _, err := sn.tx.ExecContext(sn.ctx, q, args...); err != nil {
			return fmt.Errorf("ordering conversations: %w", err)
		}
	}
	return nil
}

// KeyedConversation is a conversation with the key it is ordered by.
type KeyedConversation struct {
	Conversation
	Key string
}

// OrderedConversations reads the conversations in the order of OrderBy
// (which must have been called), with their keys.
func (sn *Snapshot) OrderedConversations() *Rows[KeyedConversation] {
	return query(sn, func(c *KeyedConversation) []any {
		return []any{&c.Seq, &c.ID, &c.Source, &c.ContentSHA, &c.MetaJSON, &c.Key}
	}, nil, `
		SELECT c.seq, c.id, c.source, c.content_sha, c.meta_json, o.k
		FROM temp.conversation_order o
		JOIN conversations c ON c.seq = o.seq
		ORDER BY o.k, o.seq`)
}

// OrderedResults reads every result in the order of OrderBy (in no
// particular stage order within a conversation).
func (sn *Snapshot) OrderedResults() *Rows[StoredResult] {
	var status string
	return query(sn, func(r *StoredResult) []any { return []any{&r.Seq, &r.Stage, &status} },
		func(r *StoredResult) { r.OK = status == "ok" }, `
		SELECT r.seq, r.stage, r.status
		FROM temp.conversation_order o
		JOIN results r ON r.seq = o.seq
		ORDER BY o.k, o.seq`)
}

// OrderedAnnotations reads the annotations of the configured stages in the
// order of OrderBy, then stage (position), then order within the result,
// as Annotations does within a conversation.
func (sn *Snapshot) OrderedAnnotations() *Rows[StoredAnnotation] {
	var ord int64
	return query(sn, func(a *StoredAnnotation) []any {
		return []any{&a.Seq, &a.Stage, &ord, &a.Field, &a.Value, &a.AttrsJSON}
	}, func(a *StoredAnnotation) {
		a.Ord = int(ord)
		a.IsLabel = a.AttrsJSON == labelMark
		if a.IsLabel {
			a.AttrsJSON = ""
		}
	}, `
		SELECT a.seq, a.stage, a.ord, a.field, a.value, a.attrs_json
		FROM temp.conversation_order o
		JOIN annotations a ON a.seq = o.seq
		JOIN stages s ON s.name = a.stage
		ORDER BY o.k, o.seq, s.position, a.ord`)
}

// FieldSummary is one (stage, field) the annotations hold.
type FieldSummary struct {
	Stage, Field string
	// Label: some of its annotations are a classifier's labels.
	Label bool
}

// Fields lists the fields of the configured stages' annotations, by stage
// position, stage and field, without reading them into memory.
func (sn *Snapshot) Fields() ([]FieldSummary, error) {
	var label int64
	rows := query(sn, func(f *FieldSummary) []any { return []any{&f.Stage, &f.Field, &label} },
		func(f *FieldSummary) { f.Label = label != 0 }, `
		SELECT a.stage, a.field, max(a.attrs_json = ?)
		FROM annotations a
		JOIN stages s ON s.name = a.stage
		GROUP BY a.stage, a.field
		ORDER BY min(s.position), a.stage, a.field`, labelMark)
	var out []FieldSummary
	for rows.Next() {
		out = append(out, rows.Row())
	}
	return out, rows.Err()
}

// StageCount is how many of a stage's results are ok and how many failed.
type StageCount struct {
	Stage      string
	OK, Failed int
}

// StageCounts counts each stage's results (of the conversations stored).
func (sn *Snapshot) StageCounts() ([]StageCount, error) {
	var ok, failed int64
	rows := query(sn, func(s *StageCount) []any { return []any{&s.Stage, &ok, &failed} },
		func(s *StageCount) { s.OK, s.Failed = int(ok), int(failed) }, `
		SELECT r.stage, sum(r.status = 'ok'), sum(r.status = 'error')
		FROM results r
		JOIN conversations c ON c.seq = r.seq
		GROUP BY r.stage
		ORDER BY r.stage`)
	var out []StageCount
	for rows.Next() {
		out = append(out, rows.Row())
	}
	return out, rows.Err()
}

// Finder looks conversations up by source and id in a snapshot (the
// store's unique index), for a pass over something else — a dataset read
// again — that must not hold the run's conversations in memory.
type Finder struct{ stmt *sql.Stmt }

// Finder prepares the look-up; Close it before the snapshot.
func (sn *Snapshot) Finder() (*Finder, error) {
	stmt, err := sn.tx.PrepareContext(sn.ctx, `SELECT seq, id, source, content_sha, meta_json FROM conversations WHERE source = ? AND id = ?`)
	if err != nil {
		return nil, err
	}
	return &Finder{stmt: stmt}, nil
}

// Find returns the conversation of source and id, and whether there is one.
func (f *Finder) Find(source, id string) (Conversation, bool, error) {
	var c Conversation
	err := f.stmt.QueryRow(source, id).Scan(&c.Seq, &c.ID, &c.Source, &c.ContentSHA, &c.MetaJSON)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// Close releases the statement.
func (f *Finder) Close() error { return f.stmt.Close() }
