package explore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// The text index is the explorer's own SQLite file, in a temporary folder
// removed on Close: the run store keeps no conversation text (only its
// hash), so the turns are read once from the runs' datasets, as their
// manifests name them, into a table keyed by (source, id), with an FTS5
// index of their text for search. The run stores are attached to the
// reader's connection read-only, so one query can join a run's
// conversations and annotations with their text, or two runs with each
// other; nothing is written to a run folder.
const indexSchema = `
CREATE TABLE IF NOT EXISTS texts (
	id     INTEGER PRIMARY KEY,
	source TEXT NOT NULL,
	cid    TEXT NOT NULL,
	sha    TEXT NOT NULL,
	turns  TEXT NOT NULL,
	UNIQUE (source, cid)
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='');
`

// indexBatch is how many conversations one write transaction of the index
// holds: big enough that commits cost little, small enough that readers see
// progress.
const indexBatch = 500

// textIndex is the index file and its build's progress.
type textIndex struct {
	dir  string
	path string
	w    *sql.DB // the builder's connection

	read   atomic.Int64 // conversations read from the datasets so far
	done   atomic.Bool
	mu     sync.Mutex
	err    error // the build's error, if it failed
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTextIndex() (*textIndex, error) {
	dir, err := os.MkdirTemp("", "valuescope-serve-")
	if err != nil {
		return nil, fmt.Errorf("the explorer's text index: %w", err)
	}
	ix := &textIndex{dir: dir, path: filepath.Join(dir, "index.sqlite")}
	ix.w, err = sql.Open("sqlite", store.FileURI(ix.path)+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=busy_timeout(10000)")
	if err == nil {
		ix.w.SetMaxOpenConns(1)
		_, err = ix.w.Exec(indexSchema)
	}
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("the explorer's text index %s: %w", ix.path, err)
	}
	return ix, nil
}

// start reads the datasets of the runs into the index, in the background.
func (ix *textIndex) start(runs []*Run) {
	ctx, cancel := context.WithCancel(context.Background())
	ix.cancel = cancel
	ix.wg.Add(1)
	go func() {
		defer ix.wg.Done()
		err := ix.build(ctx, runs)
		ix.mu.Lock()
		ix.err = err
		ix.mu.Unlock()
		ix.done.Store(true)
	}()
}

// status says how far the build is.
func (ix *textIndex) status() IndexStatus {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := IndexStatus{Read: ix.read.Load(), Done: ix.done.Load()}
	if ix.err != nil {
		s.Error = ix.err.Error()
	}
	return s
}

// IndexStatus is the text index's progress, as /api/status reports it.
type IndexStatus struct {
	Read  int64  `json:"read"`
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

func (ix *textIndex) build(ctx context.Context, runs []*Run) error {
	seen := map[string]bool{}
	for _, r := range runs {
		m, err := runfolder.Folder(r.Dir).ReadManifest()
		if err != nil {
			return fmt.Errorf("run %s: reading its manifest for its dataset: %w", r.Name, err)
		}
		if m == nil || len(m.Dataset.Paths) == 0 {
			return fmt.Errorf("run %s: its manifest names no dataset", r.Name)
		}
		key, _ := json.Marshal(m.Dataset)
		if seen[string(key)] {
			continue // runs over the same data share its texts
		}
		seen[string(key)] = true
		if err := ix.readDataset(ctx, m.Dataset.ReadPaths(), m.Dataset.Format); err != nil {
			return fmt.Errorf("run %s: reading its dataset into the text index: %w", r.Name, err)
		}
	}
	return nil
}

func (ix *textIndex) readDataset(ctx context.Context, paths []string, format string) error {
	rd, err := dataset.Open(paths, dataset.Options{Format: format})
	if err != nil {
		return err
	}
	defer rd.Close()
	var tx *sql.Tx
	var ins, fts *sql.Stmt
	n := 0
	commit := func() error {
		if tx == nil {
			return nil
		}
		err := tx.Commit()
		tx = nil
		return err
	}
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := rd.Next()
		if err == io.EOF {
			return commit()
		}
		var bad *dataset.BadRecord
		if errors.As(err, &bad) {
			continue // the run counted it; it has no conversation to show
		}
		if err != nil {
			return err
		}
		if tx == nil {
			if tx, err = ix.w.BeginTx(ctx, nil); err != nil {
				return err
			}
			if ins, err = tx.PrepareContext(ctx, `INSERT INTO texts (source, cid, sha, turns) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`); err != nil {
				return err
			}
			if fts, err = tx.PrepareContext(ctx, `INSERT INTO fts (rowid, body) VALUES (?, ?)`); err != nil {
				return err
			}
		}
		turns, err := json.Marshal(c.Turns)
		if err != nil {
			return err
		}
		res, err := ins.ExecContext(ctx, c.Source, c.ID, conversation.ContentID(c.Turns), string(turns))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			id, _ := res.LastInsertId()
			var body strings.Builder
			for _, t := range c.Turns {
				body.WriteString(t.Content)
				body.WriteByte('\n')
			}
			if _, err := fts.ExecContext(ctx, id, body.String()); err != nil {
				return err
			}
		}
		ix.read.Add(1)
		if n++; n%indexBatch == 0 {
			if err := commit(); err != nil {
				return err
			}
		}
	}
}

func (ix *textIndex) close() error {
	if ix.cancel != nil {
		ix.cancel()
	}
	ix.wg.Wait()
	var err error
	if ix.w != nil {
		err = ix.w.Close()
	}
	if rerr := os.RemoveAll(ix.dir); err == nil {
		err = rerr
	}
	return err
}
