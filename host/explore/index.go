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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// The text index is the explorer's own SQLite file, in a temporary folder
// removed on Close: the run store keeps no conversation text (only its
// hash), so the turns are read once from the runs' datasets, as their
// manifests name them, into a table keyed by (source, id), with an FTS5
// index of their text for search. The index is by trigrams (any three
// characters), not words: Chinese and Japanese are not written in words
// separated by spaces, and a word tokenizer makes a whole sentence of them
// one token; a shorter search is a LIKE over the turns (see textCond). The run stores are attached to the
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
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='', tokenize='trigram');
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

// indexPrefix names the index's folders in the temporary directory
// ($TMPDIR/valuescope-serve-*); each holds its server's PID in pidFile, so
// that a folder a killed server left (SIGKILL runs no Close) is removed by
// the next server.
const (
	indexPrefix = "valuescope-serve-"
	pidFile     = "pid"
)

func newTextIndex() (*textIndex, error) {
	removeStale(os.TempDir())
	dir, err := os.MkdirTemp("", indexPrefix)
	if err != nil {
		return nil, fmt.Errorf("the explorer's text index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
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

// removeStale removes the index folders in tmp whose server is dead: its
// PID file names a process that no longer exists. A folder without a PID
// file is another server's being made (or not this version's) and is left;
// so is one whose process cannot be asked (another user's: not ours to
// remove anyway).
func removeStale(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, indexPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, pidFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if !alive(pid) {
			os.RemoveAll(dir)
		}
	}
}

// alive is whether process pid exists (signal 0 asks without signalling).
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !(errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH))
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

// build reads, of each run's dataset, the conversations its store holds
// (the run's limit, sample or shard: not the whole dataset), or, for a run
// not complete (one being written may add any of its dataset's
// conversations), every conversation of its shard.
func (ix *textIndex) build(ctx context.Context, runs []*Run) error {
	type group struct {
		info   runfolder.DatasetInfo
		all    bool
		shard  dataset.Shard
		wanted map[string]bool // source + "\x00" + id
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range runs {
		m, err := runfolder.Folder(r.Dir).ReadManifest()
		if err != nil {
			return fmt.Errorf("run %s: reading its manifest for its dataset: %w", r.Name, err)
		}
		if m == nil || len(m.Dataset.Paths) == 0 {
			return fmt.Errorf("run %s: its manifest names no dataset", r.Name)
		}
		sel := m.Dataset
		sel.Limit, sel.Sample, sel.Seed = 0, 0, 0 // one read of the files serves every selection
		key, _ := json.Marshal(sel)
		g := byKey[string(key)]
		if g == nil {
			g = &group{info: m.Dataset, wanted: map[string]bool{}}
			byKey[string(key)] = g
			groups = append(groups, g)
		}
		if !m.Run.Complete {
			g.all = true
			if m.Dataset.Shard != "" {
				if g.shard, err = dataset.ParseShard(m.Dataset.Shard); err != nil {
					return fmt.Errorf("run %s: its manifest's shard: %w", r.Name, err)
				}
			}
			continue
		}
		if err := storePairs(ctx, r, g.wanted); err != nil {
			return err
		}
	}
	for _, g := range groups {
		keep := func(c *conversation.Conversation) bool { return g.all || g.wanted[c.Source+"\x00"+c.ID] }
		if err := ix.readDataset(ctx, g.info.ReadPaths(), dataset.Options{Format: g.info.Format, Shard: g.shard}, keep); err != nil {
			return fmt.Errorf("dataset %s: reading it into the text index: %w", strings.Join(g.info.Paths, ", "), err)
		}
	}
	return nil
}

// storePairs adds the (source, id) of every conversation run r's store
// holds to wanted.
func storePairs(ctx context.Context, r *Run, wanted map[string]bool) error {
	path := runfolder.Folder(r.Dir).Store()
	uri, err := store.AttachURI(path)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT source, id FROM conversations`)
	if err != nil {
		return fmt.Errorf("run %s: reading its conversations: %w", r.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var src, id string
		if err := rows.Scan(&src, &id); err != nil {
			return err
		}
		wanted[src+"\x00"+id] = true
	}
	return rows.Err()
}

func (ix *textIndex) readDataset(ctx context.Context, paths []string, o dataset.Options, keep func(*conversation.Conversation) bool) error {
	rd, err := dataset.Open(paths, o)
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
		if !keep(c) {
			continue
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
