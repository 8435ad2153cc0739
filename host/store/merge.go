package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MergeCounts is what Merge copied from one store.
type MergeCounts struct {
	Conversations, Results, Annotations, BadRecords, ModelAnswers int64
}

// Merge copies everything another store holds into s, in one transaction:
// its conversations, results, annotations, records set aside, cached model
// answers, batches in flight, the answers its stages rejected and a reask
// under way. It is how the stores of a run's shards
// become one (package merge).
//
// The conversations of the two stores must be disjoint, in position (seq)
// and in identity (source, id): a conversation in both is an error that
// names it, and nothing is copied. Records set aside, model answers and
// batches may repeat (every shard reads the whole dataset, and shards may
// share answers through --cache-from): a repeat is kept once. Metadata and
// stages are not copied; the caller decides them (MetaAll, Stages).
func (s *Store) Merge(ctx context.Context, path string) (MergeCounts, error) {
	var n MergeCounts
	src, err := OpenReadOnly(path) // checks that it is a store of this schema
	if err != nil {
		return n, err
	}
	uri := src.roURI
	src.Close()
	conn, err := s.db.Conn(ctx) // ATTACH holds for one connection only
	if err != nil {
		return n, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, uri); err != nil {
		return n, fmt.Errorf("merging %s: %w", path, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE src`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return n, err
	}
	defer tx.Rollback()
	var seq int64
	var id, source string
	err = tx.QueryRowContext(ctx, `SELECT c.seq, c.id, c.source FROM src.conversations c
		WHERE EXISTS (SELECT 1 FROM main.conversations m WHERE m.seq = c.seq)
		   OR EXISTS (SELECT 1 FROM main.conversations m WHERE m.source = c.source AND m.id = c.id)
		LIMIT 1`).Scan(&seq, &id, &source)
	switch {
	case err == nil:
		return n, fmt.Errorf("merging %s: conversation %s of %s (position %d) is already in the merged store: the stores overlap", path, id, source, seq)
	case !errors.Is(err, sql.ErrNoRows):
		return n, fmt.Errorf("merging %s: %w", path, err)
	}
	type step struct {
		q   string
		dst *int64
	}
	steps := []step{
		{`INSERT INTO main.conversations SELECT seq, id, source, content_sha, meta_json FROM src.conversations`, &n.Conversations},
		{`INSERT INTO main.results SELECT seq, stage, status, error FROM src.results`, &n.Results},
		{`INSERT INTO main.annotations SELECT seq, stage, ord, field, value, attrs_json FROM src.annotations`, &n.Annotations},
		{`INSERT INTO main.bad_records SELECT file, record, line, reason FROM src.bad_records WHERE true ON CONFLICT DO NOTHING`, &n.BadRecords},
		{`INSERT INTO main.model_cache SELECT key, response FROM src.model_cache WHERE true ON CONFLICT DO NOTHING`, &n.ModelAnswers},
	}
	// The tables the model package makes when it first needs them, and the
	// duplicates a store made by an older valuescope lacks (create ""):
	// copied when the shard has them.
	for _, t := range []struct{ name, create, insert string }{
		{"duplicates", "", `INSERT INTO main.duplicates SELECT file, record, conversation, line, reason FROM src.duplicates WHERE true ON CONFLICT DO NOTHING`},
		{"model_batches", modelBatchesTable, `INSERT INTO main.model_batches SELECT id, endpoint, keys, created FROM src.model_batches WHERE true ON CONFLICT DO NOTHING`},
		{"model_rejected", modelRejectedTable, `INSERT INTO main.model_rejected SELECT key, response, stage, conversation, reason, at FROM src.model_rejected`},
		{"model_reask", modelReaskTable, `INSERT INTO main.model_reask SELECT stage, key FROM src.model_reask WHERE true ON CONFLICT DO NOTHING`},
	} {
		var has bool
		if err := tx.QueryRowContext(ctx, `SELECT count(*) > 0 FROM src.sqlite_master WHERE type = 'table' AND name = ?`, t.name).Scan(&has); err != nil {
			return n, err
		}
		if has && t.create != "" {
			if _, err := tx.ExecContext(ctx, t.create); err != nil {
				return n, err
			}
		}
		if has {
			steps = append(steps, step{t.insert, nil})
		}
	}
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, st.q)
		if err != nil {
			return MergeCounts{}, fmt.Errorf("merging %s: %w", path, err)
		}
		if st.dst != nil {
			*st.dst, _ = res.RowsAffected()
		}
	}
	if err := tx.Commit(); err != nil {
		return MergeCounts{}, fmt.Errorf("merging %s: %w", path, err)
	}
	return n, nil
}

// MetaAll reads the whole of the run's key-value table but the schema
// version (which every store of this valuescope shares).
func (s *Store) MetaAll(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM meta WHERE key != 'schema'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// Stages reads the stages as the store tracks them, in their order.
func (s *Store) Stages(ctx context.Context) ([]Stage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, fingerprint FROM stages ORDER BY position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Stage
	for rows.Next() {
		var st Stage
		if err := rows.Scan(&st.Name, &st.Fingerprint); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
