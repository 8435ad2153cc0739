package store

import (
	"context"
	"database/sql"
	"iter"
)

// A Snapshot reads a run as it stood at one instant: its queries all run in
// one read-only transaction, so what they return is consistent with each
// other (never an annotation without its result row) even while a run is
// writing. Several of its cursors may be open at once; they stream, so
// memory does not grow with the size of the run. Close it when done.
type Snapshot struct {
	ctx          context.Context
	tx           *sql.Tx
	noDuplicates bool // see Store
}

// Snapshot begins a read snapshot of the store.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return &Snapshot{ctx: ctx, tx: tx, noDuplicates: s.noDuplicates}, nil
}

// Close ends the snapshot (and any cursor still open on it).
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Rows is a cursor over the rows of a snapshot's query, each read as a T:
//
//	rows := sn.Annotations()
//	defer rows.Close()
//	for rows.Next() {
//		a := rows.Row()
//	}
//	if err := rows.Err(); err != nil { ... }
//
// or, with All, a range-over-func loop. A query that cannot start reports
// its error through Err after the first Next.
type Rows[T any] struct {
	rows *sql.Rows
	err  error
	row  T
	dest []any    // pointers into row, scanned into
	fix  func(*T) // adjusts a row once scanned (nil: none)
}

func query[T any](sn *Snapshot, dest func(*T) []any, fix func(*T), q string, args ...any) *Rows[T] {
	r := &Rows[T]{fix: fix}
	r.dest = dest(&r.row)
	r.rows, r.err = sn.tx.QueryContext(sn.ctx, q, args...)
	return r
}

// Next moves to the next row; false at the end or on an error (see Err).
func (r *Rows[T]) Next() bool {
	if r.err != nil || r.rows == nil {
		return false
	}
	if !r.rows.Next() {
		r.err = r.rows.Err()
		r.Close()
		return false
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		r.err = err
		r.Close()
		return false
	}
	if r.fix != nil {
		r.fix(&r.row)
	}
	return true
}

// Row is the current row.
func (r *Rows[T]) Row() T { return r.row }

// Err is the error that ended the rows, if any.
func (r *Rows[T]) Err() error { return r.err }

// Close releases the cursor (Next does at the end); it may be called again.
func (r *Rows[T]) Close() error {
	if r.rows == nil {
		return nil
	}
	err := r.rows.Close()
	r.rows = nil
	return err
}

// All ranges over the rows, then yields the error that ended them, if any
// (with a zero T). Stopping early closes the cursor.
func (r *Rows[T]) All() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		defer r.Close()
		for r.Next() {
			if !yield(r.row, nil) {
				return
			}
		}
		if r.err != nil {
			var zero T
			yield(zero, r.err)
		}
	}
}

// StoredStage is a configured stage as recorded: its position in the
// pipeline (0 first) and fingerprint.
type StoredStage struct {
	Name        string
	Position    int
	Fingerprint string
}

// Stages lists the configured stages in pipeline order.
func (sn *Snapshot) Stages() ([]StoredStage, error) {
	var pos int64
	rows := query(sn, func(s *StoredStage) []any { return []any{&s.Name, &pos, &s.Fingerprint} },
		func(s *StoredStage) { s.Position = int(pos) },
		`SELECT name, position, fingerprint FROM stages ORDER BY position, name`)
	var out []StoredStage
	for rows.Next() {
		out = append(out, rows.Row())
	}
	return out, rows.Err()
}

// Conversations reads the conversations in seq order.
func (sn *Snapshot) Conversations() *Rows[Conversation] {
	return query(sn, func(c *Conversation) []any { return []any{&c.Seq, &c.ID, &c.Source, &c.ContentSHA, &c.MetaJSON} }, nil,
		`SELECT seq, id, source, content_sha, meta_json FROM conversations ORDER BY seq`)
}

// ConversationsWithoutHash reads the conversations as Conversations does,
// but not their content hashes (ContentSHA is ""): the lighter read for a
// pass over every conversation that needs none (an export reads them three
// times).
func (sn *Snapshot) ConversationsWithoutHash() *Rows[Conversation] {
	return query(sn, func(c *Conversation) []any { return []any{&c.Seq, &c.ID, &c.Source, &c.MetaJSON} }, nil,
		`SELECT seq, id, source, meta_json FROM conversations ORDER BY seq`)
}

// StoredResult is a (conversation, stage) pair done, well (OK) or not
// (Errors has why).
type StoredResult struct {
	Seq   int64
	Stage string
	OK    bool
}

// Results reads every result in seq order (in no particular stage order
// within a conversation).
func (sn *Snapshot) Results() *Rows[StoredResult] {
	var status string
	return query(sn, func(r *StoredResult) []any { return []any{&r.Seq, &r.Stage, &status} },
		func(r *StoredResult) { r.OK = status == "ok" },
		`SELECT seq, stage, status FROM results ORDER BY seq`)
}

// StageError is a stage that failed for a conversation.
type StageError struct {
	Seq        int64
	ID, Source string // the conversation's
	Stage      string
	Err        string
}

// Errors reads the failed results of the configured stages, in seq order,
// then stage order.
func (sn *Snapshot) Errors() *Rows[StageError] {
	return query(sn, func(e *StageError) []any { return []any{&e.Seq, &e.ID, &e.Source, &e.Stage, &e.Err} }, nil, `
		SELECT r.seq, c.id, c.source, r.stage, r.error
		FROM results r
		JOIN conversations c ON c.seq = r.seq
		JOIN stages s ON s.name = r.stage
		WHERE r.status = 'error'
		ORDER BY r.seq, s.position`)
}

// StoredAnnotation is an annotation row as read back: a label (IsLabel,
// AttrsJSON "") or an extracted item.
type StoredAnnotation struct {
	Seq   int64
	Stage string
	Ord   int // its order within its result
	Annotation
}

// Annotations reads the annotations of the configured stages ordered by
// conversation (seq), then stage (position), then order within the result.
func (sn *Snapshot) Annotations() *Rows[StoredAnnotation] {
	// The annotations' primary key (seq, stage, ord) gives the seq order;
	// SQLite sorts only within each conversation to put stages in position
	// order, so the sort stays small.
	var ord int64 // scanned as int64: into an int, database/sql goes through text
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
		FROM annotations a
		JOIN stages s ON s.name = a.stage
		ORDER BY a.seq, s.position, a.ord`)
}

// BadRecords reads the dataset records set aside, with the duplicate
// conversations set aside, by file, record and conversation.
func (sn *Snapshot) BadRecords() *Rows[BadRecord] {
	var line int64
	q := `SELECT file, record, line, reason, '' AS conversation FROM bad_records`
	if !sn.noDuplicates {
		q += ` UNION ALL SELECT file, record, line, reason, conversation FROM duplicates`
	}
	return query(sn, func(b *BadRecord) []any { return []any{&b.File, &b.Record, &line, &b.Reason, &b.Conversation} },
		func(b *BadRecord) { b.Line = int(line) }, q+` ORDER BY file, record, conversation`)
}

// ValueCount is a distinct annotation value and how many rows have it.
type ValueCount struct {
	Value string
	Count int64
}

// FieldValues reads the distinct values of the annotations of one field
// (over every stage that writes it), each with its number of rows, ordered
// by value.
func (sn *Snapshot) FieldValues(field string) *Rows[ValueCount] {
	return query(sn, func(v *ValueCount) []any { return []any{&v.Value, &v.Count} }, nil,
		`SELECT value, count(*) FROM annotations WHERE field = ? GROUP BY value ORDER BY value`, field)
}
