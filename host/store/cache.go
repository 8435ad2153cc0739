package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
