package runfolder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/atomicfile"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Manifest says what produced a run's results. It is rewritten at the end of
// every invocation of the run and accumulates over them: Invocations lists
// each one, ModelUsage is the total over all of them (what the folder cost,
// invocations before a --fresh included), Counts describes the store as it
// now is. An invocation is written when it starts (Complete false) and again
// when it ends, so one that is killed still shows.
type Manifest struct {
	Valuescope BuildInfo    `json:"valuescope"`
	Run        RunInfo      `json:"run"`
	Dataset    DatasetInfo  `json:"dataset"`
	Stages     []StageInfo  `json:"stages"`
	Models     []model.Info `json:"models,omitempty"`
	// ModelUsage is every invocation's usage added up, by model name.
	ModelUsage []model.Usage `json:"model_usage,omitempty"`
	Counts     store.Counts  `json:"counts"`
	// Progress is the last invocation's.
	Progress Progress `json:"progress"`
	// Invocations are the run's invocations, oldest first.
	Invocations []Invocation `json:"invocations,omitempty"`
	// Merged is set on a run folder valuescope merge made of shards.
	Merged *MergeInfo `json:"merged,omitempty"`
}

// MergeInfo says which shard folders a merged run was made of.
type MergeInfo struct {
	// Shards is the number of shards the run was split into.
	Shards int           `json:"shards"`
	From   []MergedShard `json:"from"`
	// Missing are the shards merged without a folder, Unfinished those
	// whose run had not finished (merge --partial); a run over the merged
	// folder may have finished them since (Run.Complete says).
	Missing    []int     `json:"missing,omitempty"`
	Unfinished []int     `json:"unfinished,omitempty"`
	Merged     time.Time `json:"merged"`
}

// MergedShard is one shard folder of a merged run.
type MergedShard struct {
	Shard    string `json:"shard"`
	Dir      string `json:"dir"`
	Complete bool   `json:"complete"`
}

// RunInfo is the run as a whole: Started is the first invocation's start,
// Finished the last one's end.
type RunInfo struct {
	Name     string    `json:"name"`
	Dir      string    `json:"dir"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Resumed is set when the last invocation continued an earlier one.
	Resumed bool `json:"resumed"`
	// Complete is false when the last invocation was interrupted.
	Complete bool `json:"complete"`
}

// Invocation is one `valuescope run` over the folder.
type Invocation struct {
	// ID names the invocation in the store's record of its model usage
	// (its start, RFC 3339 with nanoseconds).
	ID         string    `json:"id,omitempty"`
	Valuescope BuildInfo `json:"valuescope"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	// Fresh: this invocation started the run over (--fresh).
	Fresh    bool          `json:"fresh,omitempty"`
	Complete bool          `json:"complete"`
	Progress Progress      `json:"progress"`
	Models   []model.Usage `json:"model_usage,omitempty"`
	// Error is why the invocation stopped early ("" when it did not).
	Error string `json:"error,omitempty"`
	// Shard is the shard the invocation ran, in a merged run's manifest.
	Shard string `json:"shard,omitempty"`
}

// Progress is an invocation's counts, as the pipeline reports them
// (pipeline.Progress) and the manifest records them. Conversations counts
// those read from the dataset (after limit, sampling and sharding); Skipped those
// already done by an earlier, interrupted invocation.
type Progress struct {
	Conversations int64
	Done          int64
	Skipped       int64
	Errors        int64
	BadRecords    int64
	Elapsed       time.Duration
	Finished      bool
	// DatasetRead of DatasetSize bytes of the dataset's files are read
	// (dataset.Reader.Progress; 0 when the source cannot say): with
	// Elapsed, a total and an ETA.
	DatasetRead, DatasetSize int64
	// Models summarises the model calls so far (calls, cache hits, tokens,
	// cost) for a progress line, when the caller fills it in; the pipeline
	// does not know them, and the manifest has them whole (Models).
	Models string `json:"-"`
}

// DatasetInfo is the dataset and the selection of it the run reads.
type DatasetInfo struct {
	Paths  []string `json:"paths"`
	Format string   `json:"format"`
	Limit  int      `json:"limit,omitempty"`
	Sample int      `json:"sample,omitempty"`
	Seed   int64    `json:"seed,omitempty"`
	// Shard is "i/N" for a run of one shard (run --shard), "" otherwise.
	Shard string     `json:"shard,omitempty"`
	Files []FileInfo `json:"files"`
	// Hub records each hf:// path as the run resolved it: the repository,
	// the commit its revision was and each file's hash (Files has the
	// cached copies' paths, which hold the commit).
	Hub []*hub.Snapshot `json:"hub,omitempty"`
}

// ReadPaths are the paths to open to read the run's dataset again: Paths,
// each hf:// path replaced by the cached files of the commit the run read,
// so that no Hub is asked and a branch that moved is not read instead.
func (d DatasetInfo) ReadPaths() []string {
	var out []string
	for _, p := range d.Paths {
		i := slices.IndexFunc(d.Hub, func(s *hub.Snapshot) bool { return s.URL == p })
		if i < 0 {
			out = append(out, p)
			continue
		}
		for _, f := range d.Hub[i].Files {
			out = append(out, f.Local)
		}
	}
	return out
}

// FileInfo is one dataset file: its identity (path, size, SHA-256) and what
// the reader found in it.
type FileInfo struct {
	Path          string `json:"path"`
	Source        string `json:"source"`
	Format        string `json:"format"`
	Container     string `json:"container"`
	Compress      string `json:"compression,omitempty"`
	Records       int64  `json:"records"`
	Conversations int64  `json:"conversations"`
	BadRecords    int64  `json:"bad_records"`
	Size          int64  `json:"size"`
	SHA256        string `json:"sha256"`
}

// StageInfo is one configured stage and the plugin that ran it.
type StageInfo struct {
	Name         string     `json:"name"`
	Plugin       PluginInfo `json:"plugin"`
	ConfigJSON   string     `json:"config_json"`
	PromptFile   string     `json:"prompt_file,omitempty"`
	PromptSHA256 string     `json:"prompt_sha256,omitempty"`
	Model        string     `json:"model,omitempty"`
	Keep         []string   `json:"keep,omitempty"`
	Fingerprint  string     `json:"fingerprint"`
}

// PluginInfo is a loaded plugin as the manifest records it.
type PluginInfo struct {
	Ref      string            `json:"ref"`
	Manifest protocol.Manifest `json:"manifest"`
	SHA256   string            `json:"sha256,omitempty"`
}

// ReadManifest reads the folder's manifest.json; (nil, nil) when there is
// none yet.
func (f Folder) ReadManifest() (*Manifest, error) {
	b, err := os.ReadFile(f.Manifest())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := decodeManifest(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Manifest(), err)
	}
	return m, nil
}

func decodeManifest(b []byte, m *Manifest) error { return json.Unmarshal(b, m) }

// WriteManifest writes m whole or not at all.
func (f Folder) WriteManifest(m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(f.Manifest(), append(b, '\n'))
}

// FillUsage gives the invocations that did not end (killed: their usage
// was never written here) the usage recorded as they went (the store's
// model_usage, by invocation ID), and totals the run's usage again.
func (m *Manifest) FillUsage(recorded map[string][]byte) {
	for i, inv := range m.Invocations {
		b, ok := recorded[inv.ID]
		if !ok || inv.Complete || inv.Finished.After(inv.Started) {
			continue // ended: its own count is whole
		}
		if us, err := model.DecodeUsage(b); err == nil {
			m.Invocations[i].Models = us
		}
	}
	m.totalUsage()
}

func (m *Manifest) totalUsage() {
	var all [][]model.Usage
	for _, i := range m.Invocations {
		all = append(all, i.Models)
	}
	m.ModelUsage = model.TotalUsage(all...)
}

// AddInvocation appends inv to m (prev's invocations first, when there was a
// manifest before) and sets the run-wide fields from them: the start of the
// first, the end and completeness of the last, the total model usage.
func (m *Manifest) AddInvocation(prev *Manifest, inv Invocation) {
	if prev != nil {
		m.Invocations = append(append([]Invocation(nil), prev.Invocations...), m.Invocations...)
		if m.Merged == nil && !inv.Fresh {
			m.Merged = prev.Merged // a merge that a run finished is still made of its shards; one started over is not
		}
	}
	m.Invocations = append(m.Invocations, inv)
	// The run began at its first invocation, or at the last that started it
	// over (--fresh); the usage total still counts every invocation: it is
	// what the folder cost, and --fresh keeps the answers it paid for.
	first := 0
	for i, v := range m.Invocations {
		if v.Fresh {
			first = i
		}
	}
	m.Run.Started = m.Invocations[first].Started
	m.Run.Finished, m.Run.Complete = inv.Finished, inv.Complete
	m.Progress = inv.Progress
	m.totalUsage()
}
