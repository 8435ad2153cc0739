package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The model package's cache of model calls lives in the model_cache table:
// key is the hex SHA-256 of everything that decides a call's answer,
// response the answer as the model package encodes it. Only answers are
// stored, never errors, and never an API key (the key decides no answer).

// ModelCacheEntry is one cached model answer.
type ModelCacheEntry struct {
	Key      string
	Response []byte
}

// CachedModelResponse reads the cached answer of a model call.
func (s *Store) CachedModelResponse(ctx context.Context, key string) ([]byte, bool, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT response FROM model_cache WHERE key = ?`, key).Scan(&b)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return b, true, nil
}

// CacheModelResponses stores answers in one transaction. A key already
// present keeps its first answer: a replay must see what the first run saw.
func (s *Store) CacheModelResponses(ctx context.Context, entries []ModelCacheEntry) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO model_cache (key, response) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.Key, e.Response); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ModelCacheSize counts the cached answers.
func (s *Store) ModelCacheSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM model_cache`).Scan(&n)
	return n, err
}

// Message batches submitted to a provider and not yet collected are recorded
// with the cache keys of their requests, so that a run interrupted while a
// batch was being processed collects that batch when resumed rather than
// paying for the same requests again.
//
// TODO(lead): move this table into the schema in store.go.
const modelBatchesTable = `CREATE TABLE IF NOT EXISTS model_batches (
	id       TEXT PRIMARY KEY,
	endpoint TEXT NOT NULL,
	keys     TEXT NOT NULL, -- JSON array of cache keys (the requests' custom_id)
	created  TEXT NOT NULL
) WITHOUT ROWID`

// ModelBatch is a submitted batch of model calls.
type ModelBatch struct {
	ID       string
	Endpoint string
	Keys     []string
	Created  time.Time
}

// AddModelBatch records a submitted batch.
func (s *Store) AddModelBatch(ctx context.Context, b ModelBatch) error {
	if _, err := s.db.ExecContext(ctx, modelBatchesTable); err != nil {
		return err
	}
	keys, err := json.Marshal(b.Keys)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO model_batches (id, endpoint, keys, created) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		b.ID, b.Endpoint, string(keys), b.Created.UTC().Format(time.RFC3339Nano))
	return err
}

// ModelBatches lists the batches recorded for an endpoint, oldest first.
func (s *Store) ModelBatches(ctx context.Context, endpoint string) ([]ModelBatch, error) {
	if _, err := s.db.ExecContext(ctx, modelBatchesTable); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, keys, created FROM model_batches WHERE endpoint = ? ORDER BY created, id`, endpoint)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ModelBatch
	for rows.Next() {
		b := ModelBatch{Endpoint: endpoint}
		var keys, created string
		if err := rows.Scan(&b.ID, &keys, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(keys), &b.Keys); err != nil {
			return nil, err
		}
		b.Created, _ = time.Parse(time.RFC3339Nano, created)
		out = append(out, b)
	}
	return out, rows.Err()
}

// RemoveModelBatch forgets a batch whose results are collected.
func (s *Store) RemoveModelBatch(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, modelBatchesTable); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM model_batches WHERE id = ?`, id)
	return err
}

// A model answer that a stage's plugin could not use (the stage failed for
// the conversation it was given to), or that a researcher asked to have
// asked again (valuescope run --reask), is rejected: moved out of
// model_cache into model_rejected, so that its key is free for a fresh
// answer and the old one is kept for the record. Rows are never updated or
// removed; a key may be rejected more than once (each fresh answer failing
// in turn).
const modelRejectedTable = `CREATE TABLE IF NOT EXISTS model_rejected (
	key          TEXT NOT NULL,
	response     BLOB NOT NULL,
	stage        TEXT NOT NULL,
	conversation TEXT NOT NULL,
	reason       TEXT NOT NULL,
	at           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS model_rejected_key ON model_rejected (key)`

// ModelRejection is a rejected model answer.
type ModelRejection struct {
	Key string
	// Response is the answer as the model package encoded it; a
	// rejection moves a cached answer only if the cache holds these bytes.
	Response []byte
	// Stage and Conversation are who rejected it; Reason why ("reask", or
	// the stage's error).
	Stage, Conversation, Reason string
	At                          time.Time
}

// RejectModelResponses moves answers out of the cache into model_rejected,
// in one transaction. An answer moves only if the cache still holds it,
// byte for byte: another conversation may have rejected it already and a
// third one cached a fresh answer under the key since, which stays. It
// returns how many answers moved.
func (s *Store) RejectModelResponses(ctx context.Context, rs []ModelRejection) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	if _, err := s.db.ExecContext(ctx, modelRejectedTable); err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n := 0
	for _, r := range rs {
		moved, err := rejectTx(ctx, tx, r)
		if err != nil {
			return 0, err
		}
		if moved {
			n++
		}
	}
	return n, tx.Commit()
}

// rejectTx moves r's answer if the cache holds it (model_rejected exists).
// Its first statement writes: a transaction that read first could not
// take the write lock once another connection wrote (SQLITE_BUSY, without
// waiting), and every transaction here begins with a write.
func rejectTx(ctx context.Context, tx *sql.Tx, r ModelRejection) (bool, error) {
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM model_cache WHERE key = ? AND response = ?`, r.Key, r.Response)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO model_rejected (key, response, stage, conversation, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Key, r.Response, r.Stage, r.Conversation, r.Reason, at.UTC().Format(time.RFC3339Nano))
	return err == nil, err
}

// ModelResponseRejected reports whether this very answer to key was
// rejected here: another run's cache (--cache-from) may still hold it.
func (s *Store) ModelResponseRejected(ctx context.Context, key string, response []byte) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM model_rejected WHERE key = ? AND response = ? LIMIT 1`, key, response).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows), noSuchTable(err, "model_rejected"):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// ModelRejected is the latest rejection of an answer to key, if any.
func (s *Store) ModelRejected(ctx context.Context, key string) (ModelRejection, bool, error) {
	r := ModelRejection{Key: key}
	var at string
	err := s.db.QueryRowContext(ctx, `SELECT response, stage, conversation, reason, at FROM model_rejected WHERE key = ? ORDER BY rowid DESC LIMIT 1`, key).
		Scan(&r.Response, &r.Stage, &r.Conversation, &r.Reason, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows), noSuchTable(err, "model_rejected"):
		return r, false, nil
	case err != nil:
		return r, false, err
	}
	r.At, _ = time.Parse(time.RFC3339Nano, at)
	return r, true, nil
}

// ModelRejections lists every rejection, oldest first (for audits and tests).
func (s *Store) ModelRejections(ctx context.Context) ([]ModelRejection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, response, stage, conversation, reason, at FROM model_rejected ORDER BY rowid`)
	if noSuchTable(err, "model_rejected") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ModelRejection
	for rows.Next() {
		var r ModelRejection
		var at string
		if err := rows.Scan(&r.Key, &r.Response, &r.Stage, &r.Conversation, &r.Reason, &at); err != nil {
			return nil, err
		}
		r.At, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// noSuchTable reports whether err is SQLite's for a table never created:
// the tables made on first use are absent from older stores, and a store
// opened read-only cannot create them.
func noSuchTable(err error, table string) bool {
	return err != nil && strings.Contains(err.Error(), "no such table: "+table)
}

// A reask (valuescope run --reask STAGE) asks a stage's model calls again,
// whatever the cache holds, the new answers replacing the cached ones. It
// lasts until a run finishes: the model_reask table holds a row with no key
// for each stage being re-asked, and one row per call already asked again,
// so that a run interrupted and resumed asks each call once, not once per
// invocation.
const modelReaskTable = `CREATE TABLE IF NOT EXISTS model_reask (
	stage TEXT NOT NULL,
	key   TEXT NOT NULL, -- '': the stage is being re-asked; else a call asked again
	PRIMARY KEY (stage, key)
) WITHOUT ROWID`

// StartReask begins re-asking stage's calls, unless that is under way
// (resumed true: an interrupted reask goes on, the calls it asked again
// not asked a third time). A reask begun forgets the results of the stages
// in redo, in the same transaction, so that they are redone.
func (s *Store) StartReask(ctx context.Context, stage string, redo []string) (resumed bool, err error) {
	if _, err := s.db.ExecContext(ctx, modelReaskTable); err != nil {
		return false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO model_reask (stage, key) VALUES (?, '') ON CONFLICT DO NOTHING`, stage)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return true, err
	}
	for _, name := range redo {
		if err := clearStage(tx, name); err != nil {
			return false, err
		}
	}
	return false, tx.Commit()
}

// Reasks lists the stages being re-asked.
func (s *Store) Reasks(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT stage FROM model_reask WHERE key = '' ORDER BY stage`)
	if noSuchTable(err, "model_reask") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// ClaimReask is asked by stage's reask before a call: first is true if the
// call has not been asked again yet in this reask, and then its cached
// answer, if any, is moved to model_rejected (reason "reask", on behalf of
// conversation), in the same transaction, so that the call's new answer
// takes its place. Two conversations making the same call get one true.
func (s *Store) ClaimReask(ctx context.Context, stage, key, conversation string) (first bool, err error) {
	for _, t := range []string{modelReaskTable, modelRejectedTable} {
		if _, err := s.db.ExecContext(ctx, t); err != nil {
			return false, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil) // begins with a write: see rejectTx
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO model_reask (stage, key) VALUES (?, ?) ON CONFLICT DO NOTHING`, stage, key)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	var old []byte
	err = tx.QueryRowContext(ctx, `SELECT response FROM model_cache WHERE key = ?`, key).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	default:
		if _, err := rejectTx(ctx, tx, ModelRejection{Key: key, Response: old, Stage: stage, Conversation: conversation, Reason: ReasonReask}); err != nil {
			return false, err
		}
	}
	return true, tx.Commit()
}

// ReasonReask is the reason of an answer rejected by a reask.
const ReasonReask = "reask"

// FinishReask ends stage's reask: its calls are answered from the cache
// again (their new answers).
func (s *Store) FinishReask(ctx context.Context, stage string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM model_reask WHERE stage = ?`, stage)
	if noSuchTable(err, "model_reask") {
		return nil
	}
	return err
}
