package store

import (
	"context"
	"time"
)

// The model package's usage of each invocation of a run lives in the
// model_usage table, rewritten as it grows (before every request is sent),
// so that an invocation killed at any moment has counted every request it
// made: the manifest, written only when an invocation ends, takes a killed
// one's usage from here.
const modelUsageTable = `CREATE TABLE IF NOT EXISTS model_usage (
	invocation TEXT PRIMARY KEY,
	usage      TEXT NOT NULL, -- JSON: the model package's []Usage
	updated    TEXT NOT NULL
) WITHOUT ROWID`

// SaveModelUsage records an invocation's model usage so far (JSON).
func (s *Store) SaveModelUsage(ctx context.Context, invocation string, usage []byte) error {
	if _, err := s.db.ExecContext(ctx, modelUsageTable); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO model_usage (invocation, usage, updated) VALUES (?, ?, ?)
		ON CONFLICT (invocation) DO UPDATE SET usage = excluded.usage, updated = excluded.updated`,
		invocation, string(usage), time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

// ModelUsage reads every invocation's recorded usage, by invocation.
func (s *Store) ModelUsage(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	var exists bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'model_usage'`).Scan(&exists); err != nil || !exists {
		return out, err // a store read-only, or from before the table
	}
	rows, err := s.db.QueryContext(ctx, `SELECT invocation, usage FROM model_usage`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var inv, u string
		if err := rows.Scan(&inv, &u); err != nil {
			return nil, err
		}
		out[inv] = []byte(u)
	}
	return out, rows.Err()
}
