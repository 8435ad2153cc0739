// Package store is a run's SQLite database: the conversations seen, each
// stage's result for each conversation, the annotations, the records set
// aside, and (for the model package) the cache of model calls.
//
// It is what makes a run resumable. Every result — a stage's annotations or
// its error for one conversation — is written in one transaction with the
// row that marks the (conversation, stage) done, so a run killed at any
// instant (SIGKILL included) leaves each pair either wholly done or not at
// all, and running the same command again does exactly the rest. SQLite runs
// in WAL mode with synchronous=NORMAL: a committed transaction survives the
// process being killed (not a power cut, which a run can afford to redo).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver
)

// schemaVersion is bumped when the schema changes incompatibly; an older
// store is refused with a clear message rather than misread.
const schemaVersion = "1"

const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
	seq         INTEGER PRIMARY KEY, -- position in the dataset stream (after limit and sampling)
	id          TEXT NOT NULL,
	source      TEXT NOT NULL,
	content_sha TEXT NOT NULL,
	meta_json   TEXT NOT NULL,
	UNIQUE (source, id)
);
CREATE TABLE IF NOT EXISTS stages (
	name        TEXT PRIMARY KEY,
	position    INTEGER NOT NULL,
	fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
	seq    INTEGER NOT NULL REFERENCES conversations(seq),
	stage  TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
	error  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (seq, stage)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS annotations (
	seq        INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	ord        INTEGER NOT NULL,
	field      TEXT NOT NULL,
	value      TEXT NOT NULL,
	attrs_json TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (seq, stage, ord)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bad_records (
	file   TEXT NOT NULL,
	record INTEGER NOT NULL,
	line   INTEGER NOT NULL,
	reason TEXT NOT NULL,
	PRIMARY KEY (file, record)
) WITHOUT ROWID;
-- Conversations set aside for repeating one read before (package pipeline
-- decides): a record may hold several (HH-RLHF's chosen and rejected), so
-- they are keyed by conversation too. Read with bad_records as one list.
CREATE TABLE IF NOT EXISTS duplicates (
	file         TEXT NOT NULL,
	record       INTEGER NOT NULL,
	conversation TEXT NOT NULL,
	line         INTEGER NOT NULL,
	reason       TEXT NOT NULL,
	PRIMARY KEY (file, record, conversation)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_cache (
	key      TEXT PRIMARY KEY,
	response BLOB NOT NULL
) WITHOUT ROWID;
`

// Store is an open run store. It is safe for concurrent use; writes are
// serialised by SQLite (and best batched by the caller, see Batch).
type Store struct {
	db   *sql.DB
	path string
	// roURI is how a store opened read-only was opened (Merge attaches it
	// the same way).
	roURI string
	// noDuplicates: a store opened read-only that an older valuescope
	// made, without the duplicates table (none were set aside).
	noDuplicates bool
}

// Open opens (creating if needed) the store at path.
func Open(path string) (*Store, error) {
	dsn := FileURI(path) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening run store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening run store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init() error {
	if _, err := s.db.Exec(schema); err != nil {
		return err
	}
	var v string
	err := s.db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.db.Exec(`INSERT INTO meta (key, value) VALUES ('schema', ?)`, schemaVersion)
		return err
	case err != nil:
		return err
	case v != schemaVersion:
		return fmt.Errorf("store schema version %s; this valuescope reads version %s (start a new run folder)", v, schemaVersion)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// OpenReadOnly opens an existing store only to read it (a Snapshot, the
// counts): nothing is created, the schema is not written, and a file that is
// not a run store of this version is refused.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening run store %s: %w", path, err)
	}
	s, v, err := openRO(path, "mode=ro")
	if err != nil && readOnlyVolume(path) {
		// SQLite reads a WAL database through its -shm file, which it
		// cannot make on a read-only volume. With no write-ahead log left
		// (a store closed cleanly: a finished run, a merge), the main file
		// is the whole store, and nobody can write it there: it may be
		// read as immutable.
		if fi, serr := os.Stat(path + "-wal"); serr != nil || fi.Size() == 0 {
			s, v, err = openRO(path, "immutable=1")
		} else {
			err = fmt.Errorf("%w (it is on a read-only volume with an unfinished write-ahead log, %s: copy the folder somewhere writable)", err, path+"-wal")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening run store %s: %w", path, err)
	}
	if v != schemaVersion {
		s.Close()
		return nil, fmt.Errorf("opening run store %s: store schema version %s; this valuescope reads version %s", path, v, schemaVersion)
	}
	return s, nil
}

// AttachURI is the URI to attach the run store at path read-only to
// another SQLite connection (ATTACH DATABASE ? AS ...), the store checked
// as OpenReadOnly checks it. A store with no write-ahead log left (a run
// finished, or not yet written again) is attached immutable, as
// OpenReadOnly reads it on a read-only volume: a reader of a WAL database
// in mode=ro would make its -shm and -wal files in the run folder and keep
// them while it is open. A store being written (a live -wal) is attached
// mode=ro: its writer made those files. The answer holds while the store's
// files are unchanged: a writer coming later (a live run) needs a new
// attach, with the URI asked again.
func AttachURI(path string) (string, error) {
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("opening run store %s: %w", path, err)
		}
		s, v, err := openRO(path, "immutable=1")
		if err != nil {
			return "", fmt.Errorf("opening run store %s: %w", path, err)
		}
		s.Close()
		if v != schemaVersion {
			return "", fmt.Errorf("opening run store %s: store schema version %s; this valuescope reads version %s", path, v, schemaVersion)
		}
		return s.roURI, nil
	}
	s, err := OpenReadOnly(path)
	if err != nil {
		return "", err
	}
	s.Close()
	return s.roURI, nil
}

func openRO(path, mode string) (*Store, string, error) {
	uri := FileURI(path) + "?" + mode
	db, err := sql.Open("sqlite", uri+"&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, "", err
	}
	var v string
	if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&v); err != nil {
		db.Close()
		return nil, "", err
	}
	var dups bool
	if err := db.QueryRow(`SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'duplicates'`).Scan(&dups); err != nil {
		db.Close()
		return nil, "", err
	}
	return &Store{db: db, path: path, roURI: uri, noDuplicates: !dups}, v, nil
}

// readOnlyVolume reports whether the folder of path cannot be written.
func readOnlyVolume(path string) bool {
	f, err := os.CreateTemp(filepath.Dir(path), ".write-test-*")
	if err != nil {
		return true
	}
	f.Close()
	os.Remove(f.Name())
	return false
}

// FileURI is path as an SQLite URI filename: the characters that would end
// the path or start an escape ('?', '#', '%') are escaped, so that a folder
// named "runs/q#1" is not the file "runs/q".
func FileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
}

// CountResults counts the (conversation, stage) pairs done, well or not.
func (s *Store) CountResults(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM results`).Scan(&n)
	return n, err
}

// Meta reads a value of the run's own key-value table ("" when unset).
func (s *Store) Meta(key string) (string, error) {
	var v string
	err := s.db.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta writes a value of the run's key-value table.
func (s *Store) SetMeta(key, value string) error {
	_, err := s.db.Exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// Stage is a configured stage as the store tracks it.
type Stage struct {
	Name string
	// Fingerprint changes whenever anything that decides the stage's output
	// changes: plugin bytes, its config, prompt, model.
	Fingerprint string
}

// SetStages records the configured stages and invalidates what is stale: the
// first stage whose fingerprint or position changed, and every stage after
// it, lose their results (a later stage may depend on an earlier one through
// a filter); stages no longer configured lose theirs. It returns the names of
// the stages invalidated.
func (s *Store) SetStages(stages []Stage) (invalidated []string, err error) {
	tx, err := s.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	old := map[string]Stage{}
	pos := map[string]int{}
	rows, err := tx.Query(`SELECT name, position, fingerprint FROM stages`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var st Stage
		var p int
		if err := rows.Scan(&st.Name, &p, &st.Fingerprint); err != nil {
			rows.Close()
			return nil, err
		}
		old[st.Name], pos[st.Name] = st, p
	}
	rows.Close()
	stale := false
	keep := map[string]bool{}
	for i, st := range stages {
		keep[st.Name] = true
		o, seen := old[st.Name]
		if !stale && seen && o.Fingerprint == st.Fingerprint && pos[st.Name] == i {
			continue
		}
		stale = true
		if seen {
			invalidated = append(invalidated, st.Name)
		}
		if err := clearStage(tx, st.Name); err != nil {
			return nil, err
		}
	}
	for name := range old {
		if !keep[name] {
			invalidated = append(invalidated, name)
			if err := clearStage(tx, name); err != nil {
				return nil, err
			}
			if _, err := tx.Exec(`DELETE FROM stages WHERE name = ?`, name); err != nil {
				return nil, err
			}
		}
	}
	for i, st := range stages {
		if _, err := tx.Exec(`INSERT INTO stages (name, position, fingerprint) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, fingerprint = excluded.fingerprint`,
			st.Name, i, st.Fingerprint); err != nil {
			return nil, err
		}
	}
	return invalidated, tx.Commit()
}

func clearStage(tx *sql.Tx, name string) error {
	if _, err := tx.Exec(`DELETE FROM results WHERE stage = ?`, name); err != nil {
		return err
	}
	_, err := tx.Exec(`DELETE FROM annotations WHERE stage = ?`, name)
	return err
}

// Done is the set of (conversation, stage) pairs already finished, keyed by
// conversation seq, each with the stages done and, for the ok ones, the
// labels they wrote (a filter stage's decision must be known on resume).
type Done map[int64]map[string]StageResult

// StageResult is a stage's stored outcome for one conversation.
type StageResult struct {
	OK     bool
	Labels []string
}

// LoadDone reads what is finished.
func (s *Store) LoadDone(ctx context.Context) (Done, error) {
	done := Done{}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, stage, status FROM results`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var seq int64
		var stage, status string
		if err := rows.Scan(&seq, &stage, &status); err != nil {
			rows.Close()
			return nil, err
		}
		if done[seq] == nil {
			done[seq] = map[string]StageResult{}
		}
		done[seq][stage] = StageResult{OK: status == "ok"}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT seq, stage, value FROM annotations WHERE attrs_json = ?`, labelMark)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var stage, value string
		if err := rows.Scan(&seq, &stage, &value); err != nil {
			return nil, err
		}
		r := done[seq][stage]
		r.Labels = append(r.Labels, value)
		done[seq][stage] = r
	}
	return done, rows.Err()
}

// Conversation is the row a conversation gets in the store.
type Conversation struct {
	Seq        int64
	ID, Source string
	ContentSHA string
	MetaJSON   string
}

// Result is one stage's outcome for one conversation.
type Result struct {
	Conv  Conversation
	Stage string
	Err   string // non-empty: the stage failed for this conversation
	Items []Annotation
}

// Annotation is one stored annotation row: a classifier's label (IsLabel) or
// one extracted item.
type Annotation struct {
	Field     string
	Value     string
	AttrsJSON string
	IsLabel   bool
}

// Write stores a batch of results in one transaction: each result's
// annotations together with the row that marks its (conversation, stage)
// done. Batching many small results into one transaction is what keeps
// SQLite's commit cost off the critical path; atomicity still holds for each.
func (s *Store) Write(ctx context.Context, batch []Result) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	conv, err := tx.PrepareContext(ctx, `INSERT INTO conversations (seq, id, source, content_sha, meta_json) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	res, err := tx.PrepareContext(ctx, `INSERT INTO results (seq, stage, status, error) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	ann, err := tx.PrepareContext(ctx, `INSERT INTO annotations (seq, stage, ord, field, value, attrs_json) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, r := range batch {
		c := r.Conv
		ins, err := conv.ExecContext(ctx, c.Seq, c.ID, c.Source, c.ContentSHA, c.MetaJSON)
		if err != nil {
			return fmt.Errorf("storing conversation %s: %w", c.ID, err)
		}
		if n, _ := ins.RowsAffected(); n == 0 {
			if err := sameConversation(ctx, tx, c); err != nil {
				return err
			}
		}
		status := "ok"
		if r.Err != "" {
			status = "error"
		}
		if _, err := res.ExecContext(ctx, c.Seq, r.Stage, status, r.Err); err != nil {
			return fmt.Errorf("storing %s result for conversation %s: %w", r.Stage, c.ID, err)
		}
		for i, a := range r.Items {
			attrs := a.AttrsJSON
			if a.IsLabel {
				attrs = labelMark
			}
			if _, err := ann.ExecContext(ctx, c.Seq, r.Stage, i, a.Field, a.Value, attrs); err != nil {
				return fmt.Errorf("storing annotation of conversation %s: %w", c.ID, err)
			}
		}
	}
	return tx.Commit()
}

// sameConversation checks that the stored conversation c's insert ran into
// is c itself (another stage's result for it): a different conversation at
// its position or with its source and ID is an error that says so, rather
// than SQLite's "FOREIGN KEY constraint failed" for the result after it.
func sameConversation(ctx context.Context, tx *sql.Tx, c Conversation) error {
	var seq int64
	var id, source string
	err := tx.QueryRowContext(ctx, `SELECT seq, id, source FROM conversations WHERE seq = ? OR (source = ? AND id = ?) ORDER BY seq != ? LIMIT 1`,
		c.Seq, c.Source, c.ID, c.Seq).Scan(&seq, &id, &source)
	if err != nil {
		return fmt.Errorf("storing conversation %s: %w", c.ID, err)
	}
	if seq != c.Seq || id != c.ID || source != c.Source {
		return fmt.Errorf("storing conversation %q of %s at position %d: the store holds conversation %q of %s at position %d (a conversation is stored once, under one position, source and ID)",
			c.ID, c.Source, c.Seq, id, source, seq)
	}
	return nil
}

// labelMark marks a classifier's label row among the annotations, so that
// resuming can tell a filter's decision from extracted items.
const labelMark = `{"label":"1"}`

// ClearErrors forgets the (conversation, stage) pairs that failed, so that a
// run redoes them: a model that was down, a plugin since fixed. It returns how
// many there were.
func (s *Store) ClearErrors(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM results WHERE status = 'error'`)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Reset forgets the run, in one transaction: its conversations, stages,
// results, annotations, bad records and metadata. It keeps the cache of
// model answers (and the batches in flight), which were paid for and
// answer the same calls again: starting over should not cost twice.
func (s *Store) Reset(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM annotations`, `DELETE FROM results`, `DELETE FROM conversations`,
		`DELETE FROM stages`, `DELETE FROM bad_records`, `DELETE FROM duplicates`, `DELETE FROM meta WHERE key != 'schema'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("resetting the run store: %w", err)
		}
	}
	return tx.Commit()
}

// DuplicatePrefix begins the reason of a conversation set aside as a
// duplicate of one read before, so that a reader of errors.csv can tell
// them.
const DuplicatePrefix = "duplicate: "

// BadRecord is a dataset record set aside, or, when Conversation is set,
// one conversation of a record set aside for repeating one read before.
type BadRecord struct {
	File         string
	Record       int64
	Line         int
	Reason       string
	Conversation string
}

// AddBadRecords stores records set aside (idempotent: a resumed run that
// reads them again does not count them twice).
func (s *Store) AddBadRecords(ctx context.Context, recs []BadRecord) error {
	if len(recs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range recs {
		q, args := `INSERT INTO bad_records (file, record, line, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, []any{r.File, r.Record, r.Line, r.Reason}
		if r.Conversation != "" {
			q, args = `INSERT INTO duplicates (file, record, conversation, line, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, []any{r.File, r.Record, r.Conversation, r.Line, r.Reason}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Counts summarises a run for its manifest and progress.
type Counts struct {
	Conversations int64            `json:"conversations"`
	Annotations   int64            `json:"annotations"`
	Errors        map[string]int64 `json:"errors_by_stage"`
	BadRecords    int64            `json:"bad_records"`
	// Duplicates are the conversations set aside (counted in BadRecords
	// too) for repeating one read before.
	Duplicates int64 `json:"duplicates"`
}

// Total is the number of stage errors over all stages.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c.Errors {
		n += v
	}
	return n
}

// Count reads the run's totals.
func (s *Store) Count(ctx context.Context) (Counts, error) {
	c := Counts{Errors: map[string]int64{}}
	qs := map[string]*int64{
		`SELECT count(*) FROM conversations`: &c.Conversations,
		`SELECT count(*) FROM annotations`:   &c.Annotations,
		`SELECT count(*) FROM bad_records`:   &c.BadRecords,
	}
	if !s.noDuplicates {
		qs[`SELECT count(*) FROM duplicates`] = &c.Duplicates
	}
	for q, dst := range qs {
		if err := s.db.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return c, err
		}
	}
	c.BadRecords += c.Duplicates
	rows, err := s.db.QueryContext(ctx, `SELECT stage, count(*) FROM results WHERE status = 'error' GROUP BY stage`)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var stage string
		var n int64
		if err := rows.Scan(&stage, &n); err != nil {
			return c, err
		}
		c.Errors[stage] = n
	}
	return c, rows.Err()
}
