// Package run executes a run as a config declares it: it opens the dataset,
// loads the stages' plugins, runs the pipeline into the run folder's store,
// and writes the exports and the manifest. A run folder holds:
//
//	config.toml      the config as resolved (absolute paths, defaults)
//	config.orig.toml the config as written
//	manifest.json    what produced the results: versions, hashes, counts
//	store.sqlite     the run store (resumable; see package store)
//	annotations.csv, annotations.parquet, conversations.csv, errors.csv
//	report.html, report.json  the report (package report), unless NoReport
//	taxonomy/FIELD.tree.csv   the run's own taxonomy, which the report shows
//
// Running the same command again on an interrupted run finishes it.
package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	gojson "github.com/go-json-experiment/json"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/export"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/atomicfile"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Options are the command line's overrides of the config.
type Options struct {
	// Dataset replaces the config's dataset paths (a cross-dataset run),
	// with Format its format ("" keeps the config's).
	Dataset []string
	Format  string
	Limit   int
	Sample  int
	Seed    int64
	// Out replaces the config's run folder.
	Out string
	// Resume requires the run folder to hold a run already.
	Resume bool
	// Fresh forgets an existing run folder's results first (store.Reset),
	// keeping its cache of model answers: starting over does not pay twice.
	Fresh bool
	// Offline answers every model call from the run store's cache (and
	// CacheFrom's): a miss is that conversation's error; no API is called.
	Offline bool
	// CacheFrom lists other run folders whose cached model answers may be
	// reused (to replay a published run).
	CacheFrom []string
	// RetryErrors redoes the (conversation, stage) pairs an earlier
	// invocation recorded as failed.
	RetryErrors bool
	// NoReport skips report.html at the end of the run.
	NoReport bool
	Progress func(pipeline.Progress)
	Log      *slog.Logger
}

// Result is what a run did.
type Result struct {
	Dir string
	// Report is the path of report.html, when one was written, and
	// Taxonomy what its tree is (the run's own taxonomy, built or reused,
	// or why the values are listed flat).
	Report   string
	Taxonomy *report.TreeInfo
	Progress pipeline.Progress
	Manifest *Manifest
}

// Execute runs cfg. It returns context.Canceled (wrapped) when interrupted:
// what was finished is stored, and the same command resumes.
func Execute(ctx context.Context, cfg *config.Config, opts Options) (*Result, error) {
	res, err := execute(ctx, cfg, opts)
	if err != nil || opts.NoReport {
		return res, err
	}
	// The report once the store is closed, so that the run's taxonomy it
	// writes is newer than the store, and a later report reuses it.
	d, err := report.Build(ctx, res.Dir, report.Options{})
	if err == nil {
		err = report.Write(res.Dir, d)
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	res.Report, res.Taxonomy = filepath.Join(res.Dir, report.HTMLFile), d.Taxonomy
	return res, nil
}

// execute runs cfg and writes the exports and the manifest, the store
// closed when it returns.
func execute(ctx context.Context, cfg *config.Config, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	dir := cfg.Run.Out
	if opts.Out != "" {
		dir = opts.Out
	}
	paths, format := cfg.Dataset.Paths, cfg.Dataset.Format
	if len(opts.Dataset) > 0 {
		paths = opts.Dataset
		if opts.Format != "" {
			format = opts.Format
		}
	}
	limit := cfg.Dataset.Limit
	if opts.Limit > 0 {
		limit = opts.Limit
	}
	storePath := filepath.Join(dir, "store.sqlite")
	_, statErr := os.Stat(storePath)
	exists := statErr == nil
	if opts.Resume && !exists {
		return nil, fmt.Errorf("--resume: %s holds no run to resume", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	st, err := store.Open(storePath)
	if err != nil && opts.Fresh && exists {
		// A store this valuescope cannot read (another schema) is replaced.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(storePath + suffix)
		}
		st, err = store.Open(storePath)
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if opts.Fresh && exists {
		if err := st.Reset(ctx); err != nil {
			return nil, err
		}
		exists = false
	}

	m := &Manifest{
		Valuescope: buildInfo(),
		Run:        RunInfo{Name: cfg.Run.Name, Dir: dir, Started: time.Now().UTC(), Resumed: exists},
		Dataset:    DatasetInfo{Paths: paths, Format: format, Limit: limit, Sample: opts.Sample, Seed: opts.Seed},
	}
	// A run folder is one dataset and one selection of it: resuming over
	// another would mix conversations from both.
	selection := pipeline.Fingerprint(append([]string{format, fmt.Sprint(limit, opts.Sample, opts.Seed)}, paths...)...)
	if prev, err := st.Meta("selection"); err != nil {
		return nil, err
	} else if prev != "" && prev != selection {
		return nil, fmt.Errorf("%s holds a run over another dataset or selection (paths, format, limit, sample); use --out for a new run folder, or --fresh to start this one over", dir)
	}
	if err := st.SetMeta("selection", selection); err != nil {
		return nil, err
	}
	if opts.RetryErrors {
		n, err := st.ClearErrors(ctx)
		if err != nil {
			return nil, err
		}
		opts.Log.Info("redoing failed stages", "results", n)
	}

	var readCaches []model.Cache
	for _, other := range opts.CacheFrom {
		o, err := store.Open(filepath.Join(other, "store.sqlite"))
		if err != nil {
			return nil, fmt.Errorf("--cache-from: %w", err)
		}
		defer o.Close()
		readCaches = append(readCaches, o)
	}
	models, err := model.Open(cfg.Models, model.Options{Cache: st, ReadCaches: readCaches, Offline: opts.Offline, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	defer models.Close()
	stages, closeStages, err := loadStages(ctx, cfg, models, m, opts.Log)
	if err != nil {
		return nil, err
	}
	defer closeStages()
	if err := writeConfigs(cfg, dir); err != nil {
		return nil, err
	}

	// The last reader opened has the per-file counts the manifest reports
	// (a sampled run opens the dataset twice).
	var last *dataset.Reader
	open := func() (dataset.Source, error) {
		r, err := dataset.Open(paths, dataset.Options{Format: format, Strict: cfg.Dataset.Strict})
		if err != nil {
			return nil, err
		}
		last = r
		return r, nil
	}
	progress := opts.Progress
	if progress != nil && len(cfg.Models) > 0 {
		progress = func(p pipeline.Progress) {
			p.Models = model.Summary(models.Usage())
			opts.Progress(p)
		}
	}
	prog, runErr := pipeline.Run(ctx, open, st, stages, pipeline.Options{
		Workers: cfg.Run.Workers, Limit: limit, Sample: opts.Sample, Seed: opts.Seed,
		Progress: progress, Log: opts.Log,
	})
	var files []dataset.File
	if last != nil {
		files = last.Files()
	}
	m.Models, m.ModelUsage = models.Models(), models.Usage()
	m.Run.Finished = time.Now().UTC()
	m.Run.Complete = prog.Finished
	m.Progress = prog
	if m.Dataset.Files, err = describeFiles(files); err != nil {
		return nil, err
	}
	if m.Counts, err = st.Count(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	if runErr == nil {
		if _, err := export.Write(context.WithoutCancel(ctx), st.DB(), dir); err != nil {
			return nil, fmt.Errorf("exports: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), m); err != nil {
		return nil, err
	}
	return &Result{Dir: dir, Progress: prog, Manifest: m}, runErr
}

// loadStages loads each stage's plugin with its config and prompt.
func loadStages(ctx context.Context, cfg *config.Config, models *model.Client, m *Manifest, log *slog.Logger) ([]pipeline.Stage, func(), error) {
	var stages []pipeline.Stage
	closeAll := func() {
		for _, s := range stages {
			s.Plugin.Close()
		}
	}
	for _, sc := range cfg.Stages {
		var prompt []byte
		if sc.Prompt != "" {
			var err error
			if prompt, err = os.ReadFile(sc.Prompt); err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("stage %s: prompt: %w", sc.Name, err)
			}
		}
		confJSON := "{}"
		if len(sc.Config) > 0 {
			b, err := gojson.Marshal(sc.Config, gojson.Deterministic(true))
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("stage %s: config: %w", sc.Name, err)
			}
			confJSON = string(b)
		}
		var caller plugin.ModelCaller
		modelSpec := ""
		if sc.Model != "" {
			c, err := models.ForStage(sc.Name, sc.Model)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("stage %s: %w", sc.Name, err)
			}
			caller = c
			mc := cfg.Models[sc.Model]
			modelSpec = mc.Provider + "\x00" + mc.BaseURL + "\x00" + mc.Model
		}
		// Instances: one per core is enough however many workers there
		// are; a worker holds an instance only inside a call, never while it
		// waits for a model.
		p, info, err := plugin.Load(ctx, sc.Plugin, plugin.Options{
			Config:    protocol.ConfigureRequest{ConfigJSON: confJSON, Prompt: string(prompt)},
			Instances: min(cfg.Run.Workers, runtime.GOMAXPROCS(0)),
			Deadline:  sc.Deadline.Duration,
			Log:       log,
		})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("stage %s: %w", sc.Name, err)
		}
		promptSHA := ""
		if prompt != nil {
			promptSHA = sha(prompt)
		}
		fp := pipeline.Fingerprint(sc.Plugin, info.SHA256, info.Manifest.Version, confJSON, promptSHA, modelSpec, strings.Join(sc.Keep, "\x00"))
		stages = append(stages, pipeline.Stage{Name: sc.Name, Plugin: p, Keep: sc.Keep, Models: caller, Fingerprint: fp})
		m.Stages = append(m.Stages, StageInfo{Name: sc.Name, Plugin: info, ConfigJSON: confJSON, PromptFile: sc.Prompt,
			PromptSHA256: promptSHA, Model: sc.Model, Keep: sc.Keep, Fingerprint: fp})
	}
	return stages, closeAll, nil
}

// Manifest says what produced a run's results.
type Manifest struct {
	Valuescope BuildInfo         `json:"valuescope"`
	Run        RunInfo           `json:"run"`
	Dataset    DatasetInfo       `json:"dataset"`
	Stages     []StageInfo       `json:"stages"`
	Models     []model.Info      `json:"models,omitempty"`
	ModelUsage []model.Usage     `json:"model_usage,omitempty"`
	Counts     store.Counts      `json:"counts"`
	Progress   pipeline.Progress `json:"progress"`
}

type BuildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Go       string `json:"go"`
}

type RunInfo struct {
	Name     string    `json:"name"`
	Dir      string    `json:"dir"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Resumed is set when this invocation continued an earlier one.
	Resumed bool `json:"resumed"`
	// Complete is false when the run was interrupted.
	Complete bool `json:"complete"`
}

type DatasetInfo struct {
	Paths  []string   `json:"paths"`
	Format string     `json:"format"`
	Limit  int        `json:"limit,omitempty"`
	Sample int        `json:"sample,omitempty"`
	Seed   int64      `json:"seed,omitempty"`
	Files  []FileInfo `json:"files"`
}

type FileInfo struct {
	dataset.File
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type StageInfo struct {
	Name         string      `json:"name"`
	Plugin       plugin.Info `json:"plugin"`
	ConfigJSON   string      `json:"config_json"`
	PromptFile   string      `json:"prompt_file,omitempty"`
	PromptSHA256 string      `json:"prompt_sha256,omitempty"`
	Model        string      `json:"model,omitempty"`
	Keep         []string    `json:"keep,omitempty"`
	Fingerprint  string      `json:"fingerprint"`
}

// Version is valuescope's version, set by the command.
var Version = "dev"

func buildInfo() BuildInfo {
	b := BuildInfo{Version: Version, Revision: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Go = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	if b.Revision == "unknown" {
		// `go run` does not stamp the revision; the source tree it ran from
		// knows it.
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			if dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(dirty)) > 0 {
				b.Revision = strings.TrimSpace(string(out)) + "+dirty"
			} else {
				b.Revision = strings.TrimSpace(string(out))
			}
		}
	}
	return b
}

func describeFiles(files []dataset.File) ([]FileInfo, error) {
	var out []FileInfo
	for _, f := range files {
		fi := FileInfo{File: f}
		file, err := os.Open(f.Path)
		if err != nil {
			return nil, fmt.Errorf("hashing dataset file: %w", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("hashing %s: %w", f.Path, err)
		}
		fi.Size, fi.SHA256 = n, hex.EncodeToString(h.Sum(nil))
		out = append(out, fi)
	}
	return out, nil
}

func writeConfigs(cfg *config.Config, dir string) error {
	var buf bytes.Buffer
	buf.WriteString("# The run's config as resolved: absolute paths, defaults filled in.\n")
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return fmt.Errorf("writing resolved config: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "config.toml"), buf.Bytes()); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "config.orig.toml"), cfg.Source)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
