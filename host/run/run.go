// Package run executes a run as a config declares it: it opens the dataset,
// loads the stages' plugins, runs the pipeline into the run folder's store,
// and writes the exports and the manifest into the run folder (package
// runfolder names its files, holds its lock and its manifest type).
//
// Running the same command again on an interrupted run finishes it; a run
// refuses a folder another run holds, a folder valuescope did not make, and
// a dataset that changed since the run began.
package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/BurntSushi/toml"
	gojson "github.com/go-json-experiment/json"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/export"
	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
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
	// Shard runs only one shard of the conversations (see pipeline.Options),
	// into a folder of its own; package merge joins the shards' folders.
	Shard dataset.Shard
	// Models and BaseURLs override the config's models' ids and base URLs
	// (config.OverrideModels: NAME=VALUE, or VALUE for a config's only model).
	Models, BaseURLs []string
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
	// CacheFrom lists other run folders (or their store files) whose cached
	// model answers may be reused: to replay a published run, or to share
	// the answers of a run's shards (a shard rerun after a merge, with the
	// merged folder here, pays for nothing again).
	CacheFrom []string
	// RetryErrors redoes the (conversation, stage) pairs an earlier
	// invocation recorded as failed.
	RetryErrors bool
	// Reask asks the model calls of these stages again, whatever the cache
	// holds: each stage and those after it are redone for every
	// conversation, its calls' new answers replacing the cached ones (the
	// old ones kept in the store's model_rejected table). A reask lasts
	// until a run finishes: an interrupted one goes on when resumed, with
	// or without the option, and asks no call twice.
	Reask []string
	// NoReport skips report.html at the end of the run.
	NoReport bool
	Progress func(pipeline.Progress)
	// Plan, if set, is told what a resumed run does with each stage (kept,
	// redone and why, new, dropped) before it reads the dataset.
	Plan func([]pipeline.StagePlan)
	// Log is the run's log (the terminal's): its level decides what shows,
	// the plugins' own lines included, which are logged at Info and always
	// go to RUN/plugins.log as well.
	Log *slog.Logger
}

// Validate checks the options on their own (the config is checked by
// package config): a format that exists, counts that are not negative.
func (o *Options) Validate() error {
	if o.Format != "" && o.Format != "auto" {
		if _, err := dataset.LookupFormat(o.Format); err != nil {
			return err
		}
	}
	if o.Sample < 0 || o.Limit < 0 {
		return errors.New("--limit and --sample take a positive number")
	}
	return nil
}

// Result is what a run did.
type Result struct {
	Dir string
	// Started is set once the stages are loaded and the pipeline began.
	Started bool
	// Report is the path of report.html, when one was written, and
	// Taxonomy what its tree is (the run's own taxonomy, built or reused,
	// or why the values are listed flat).
	Report   string
	Taxonomy *report.TreeInfo
	Progress pipeline.Progress
	Manifest *runfolder.Manifest
}

// Execute runs cfg. Its Result is never nil: on an error it says as much as
// was done (Started false: the run stopped before any conversation was read).
//
// Interrupted (ctx cancelled) at any moment, it returns an error that
// wraps context.Canceled, once every plugin it loaded is closed: what was
// finished is stored, and the same command resumes. A stage that failed for
// more than its share stops the run with a *pipeline.StageFailedError, the
// manifest and the exports written.
func Execute(ctx context.Context, cfg *config.Config, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return &Result{Dir: opts.Out}, err
	}
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
		return res, fmt.Errorf("report: %w", err)
	}
	res.Report, res.Taxonomy = filepath.Join(res.Dir, report.HTMLFile), d.Taxonomy
	return res, nil
}

// execute runs cfg and writes the exports and the manifest, the store
// closed when it returns.
func execute(ctx context.Context, cfg *config.Config, opts Options) (res *Result, err error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg = resolve(cfg, opts)
	dir := cfg.Run.Out
	if opts.Out != "" {
		dir = opts.Out // as given, for the messages; the resolved config has it absolute
	}
	res = &Result{Dir: dir}
	if err := cfg.OverrideModels("model", opts.Models); err != nil {
		return res, err
	}
	if err := cfg.OverrideModels("base_url", opts.BaseURLs); err != nil {
		return res, err
	}
	if err := checkReask(cfg, opts); err != nil {
		return res, err
	}
	paths, format, limit := cfg.Dataset.Paths, cfg.Dataset.Format, cfg.Dataset.Limit
	if opts.Resume {
		if _, err := runfolder.Existing(dir); err != nil {
			return res, fmt.Errorf("--resume: no run to resume: %w", err)
		}
	}
	// The dataset's files are listed before anything is made: a path that
	// matches nothing fails here, leaving no folder behind. (Opening reads
	// no file; the pipeline opens its own reader.)
	// An hf:// path is fetched into the Hub's cache and read from there: the
	// selection keeps the path without its revision, the files' identity
	// (repository, commit, path, hash) which commit a run read. --offline
	// asks no Hub either: the files come from the cache.
	hc := hub.FromEnv()
	hc.Log = opts.Log
	hc.Offline = hc.Offline || opts.Offline
	var prior *runfolder.Manifest
	if !opts.Fresh && hub.HasURL(paths) {
		// An unreadable manifest is dealt with below; here it only
		// spares downloading a commit the run did not begin on.
		prior, _ = runfolder.Folder(dir).ReadManifest()
		if err := checkHubCommits(ctx, hc, dir, prior, paths); err != nil {
			return res, err
		}
	}
	files, snaps, err := hc.Resolve(ctx, paths, dataset.IsDataFile)
	if err != nil {
		return res, err
	}
	dsOpts := dataset.Options{Format: format, Strict: cfg.Dataset.Strict}
	listing, err := dataset.Open(files, dsOpts)
	if err != nil {
		return res, err
	}
	listing.Close()
	claim, err := runfolder.Claim(dir, "valuescope run "+cfg.Path)
	if err != nil {
		return res, err
	}
	folder := claim.Folder
	started := false
	defer func() {
		if err != nil && !started {
			claim.Abandon() // a failed start leaves nothing that blocks the corrected command
		} else {
			claim.Release()
		}
	}()
	// The plugins' own output goes to the folder's plugin log, whatever the
	// terminal shows (opts.Log decides that).
	plog, err := openPluginLog(folder, PluginLogLimit, fmt.Sprintf("valuescope run %s (valuescope %s, pid %d)", cfg.Path, runfolder.Build().Version, os.Getpid()))
	if err != nil {
		return res, err
	}
	defer plog.Close()
	exists := !claim.New
	if _, serr := os.Stat(folder.Store()); serr != nil {
		exists = false
	}
	st, err := store.Open(folder.Store())
	if err != nil && opts.Fresh && exists {
		// A store this valuescope cannot read (another schema) is replaced;
		// the folder is valuescope's (Claim checked its marker).
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(folder.Store() + suffix)
		}
		st, err = store.Open(folder.Store())
	}
	if err != nil {
		return res, err
	}
	defer st.Close()
	// --fresh resets the store only once everything else has loaded (below):
	// a typo in a plugin or model must not cost the old results.
	fresh := opts.Fresh && exists
	if fresh {
		exists = false
	}

	inv := runfolder.Invocation{Valuescope: runfolder.Build(), Started: time.Now().UTC(), Fresh: opts.Fresh}
	inv.ID = inv.Started.Format(time.RFC3339Nano) // one invocation at a time holds the folder
	m := &runfolder.Manifest{
		Valuescope: inv.Valuescope,
		Run:        runfolder.RunInfo{Name: cfg.Run.Name, Dir: dir, Resumed: exists},
		Dataset:    runfolder.DatasetInfo{Paths: paths, Format: format, Limit: limit, Sample: opts.Sample, Seed: opts.Seed, Shard: opts.Shard.String(), Hub: snaps},
	}
	// A run folder is one dataset and one selection of it: resuming over
	// another would mix conversations from both.
	selection := pipeline.Fingerprint(append([]string{format, fmt.Sprint(limit, opts.Sample, opts.Seed)}, selectionPaths(paths)...)...)
	// Before hf:// paths were keyed without their revision, they were
	// keyed as written: a run begun so is the same selection.
	asWritten := pipeline.Fingerprint(append([]string{format, fmt.Sprint(limit, opts.Sample, opts.Seed)}, paths...)...)
	prevSel, err := st.Meta(SelectionKey)
	if err != nil {
		return res, err
	} else if !fresh && prevSel != "" && prevSel != selection && prevSel != asWritten {
		return res, fmt.Errorf("%s holds a run over another dataset or selection (paths, format, limit, sample); use --out for a new run folder, or --fresh to start this one over", dir)
	}
	// The selection is the whole run's, whatever the shard (shards of one
	// run share it, and a merged folder has it); the shard is kept apart,
	// written before the selection, so a store with a selection has it.
	if prev, err := st.Meta(ShardKey); err != nil {
		return res, err
	} else if !fresh && prevSel != "" && prev != opts.Shard.String() {
		return res, shardMismatch(dir, prev, opts.Shard.String())
	}
	var filePaths []string
	for _, f := range listing.Files() {
		filePaths = append(filePaths, f.Path)
	}
	ids, err := runfolder.Identify(filePaths)
	if err != nil {
		return res, err
	}
	keyed := runfolder.NameHubFiles(ids, snaps) // the store's identity of the files: hf:// ones by the Hub's names
	if prev, err := st.Meta(DatasetKey); err != nil {
		return res, err
	} else if !fresh && prev != "" {
		was, err := runfolder.DecodeFileIDs(prev)
		if err != nil {
			return res, err
		}
		if prior != nil {
			was = runfolder.NameHubFiles(was, prior.Dataset.Hub) // recorded by the cache's paths before files were named by the Hub's
		}
		if err := folder.CheckDataset(was, keyed); err != nil {
			return res, err
		}
	}

	var readCaches []model.Cache
	for _, other := range opts.CacheFrom {
		o, err := openCache(other)
		if err != nil {
			return res, fmt.Errorf("--cache-from: %w", err)
		}
		defer o.Close()
		readCaches = append(readCaches, o)
	}
	models, err := model.Open(cfg.Models, model.Options{Cache: st, ReadCaches: readCaches, Offline: opts.Offline, Log: opts.Log,
		UsageLog: st, Invocation: inv.ID})
	if err != nil {
		return res, err
	}
	defer models.Close()
	stages, closeStages, err := loadStages(ctx, cfg, models, m, plog.logger(opts.Log))
	if err != nil {
		return res, err
	}
	defer closeStages()
	prevManifest, merr := folder.ReadManifest()
	if merr != nil {
		// Kept aside, not overwritten: it holds the earlier invocations.
		bad := folder.Manifest() + ".unreadable"
		os.Rename(folder.Manifest(), bad)
		opts.Log.Warn("earlier invocations not carried over; the unreadable manifest is kept", "file", bad, "err", merr)
	}
	// An invocation that was killed never wrote its usage into the
	// manifest; the store has it, as it was before its last request.
	if recorded, err := st.ModelUsage(ctx); err != nil {
		return res, err
	} else if prevManifest != nil {
		prevManifest.FillUsage(recorded)
	}
	started = true
	// The invocation is in the manifest from its start, before it changes
	// the store (--fresh, --retry-errors): one that is killed still shows,
	// with its start and Complete false.
	running := *m
	running.AddInvocation(prevManifest, inv)
	if err := folder.WriteManifest(&running); err != nil {
		return res, err
	}
	if fresh {
		if err := st.Reset(ctx); err != nil {
			return res, err
		}
	}
	if err := writeConfigs(cfg, folder, opts); err != nil {
		return res, err
	}
	if err := st.SetMeta(ShardKey, opts.Shard.String()); err != nil {
		return res, err
	}
	if err := st.SetMeta(SelectionKey, selection); err != nil {
		return res, err
	}
	if err := st.SetMeta(DatasetKey, runfolder.EncodeFileIDs(keyed)); err != nil {
		return res, err
	}
	if opts.RetryErrors {
		n, err := st.ClearErrors(ctx)
		if err != nil {
			return res, err
		}
		opts.Log.Info("redoing failed stages", "results", n)
	}
	reasked, err := startReasks(ctx, st, stages, opts)
	if err != nil {
		return res, err
	}

	// The last reader opened has the per-file counts the manifest reports
	// (a sampled run opens the dataset twice).
	last := listing
	open := func() (dataset.Source, error) {
		r, err := dataset.Open(files, dsOpts)
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
	// A stage whose model sends batches has a batch's worth of
	// conversations in flight (a waiting one holds no plugin instance).
	workers := models.Workers(cfg.Run.Workers, cfg.Stages)
	if workers > cfg.Run.Workers {
		opts.Log.Info("a stage's model sends batches: as many conversations in flight as a batch takes", "in_flight", workers, "workers", cfg.Run.Workers)
	}
	res.Started = true
	prog, runErr := pipeline.Run(ctx, open, st, stages, pipeline.Options{
		Workers: workers, Limit: limit, Sample: opts.Sample, Seed: opts.Seed, Shard: opts.Shard,
		MaxFailureShare: cfg.Run.MaxFailureShare, Progress: progress, Log: opts.Log,
		Plan: opts.Plan, Previous: previousStages(prevManifest, cfg, stages),
	})
	if prog.Finished {
		if err := finishReasks(ctx, st, reasked); err != nil {
			return res, err
		}
	}
	m.Models = models.Models()
	inv.Finished, inv.Complete = time.Now().UTC(), prog.Finished
	inv.Progress, inv.Models = prog, models.Usage()
	if runErr != nil {
		inv.Error = runErr.Error()
	}
	m.AddInvocation(prevManifest, inv)
	m.Dataset.Files = describeFiles(last.Files(), ids)
	res.Progress, res.Manifest = prog, m
	if m.Counts, err = st.Count(context.WithoutCancel(ctx)); err != nil {
		return res, err
	}
	if err := folder.WriteManifest(m); err != nil {
		return res, err
	}
	// A run stopped by a failing stage is written out like a finished one:
	// its exports show what failed (errors.csv) and what was done. An
	// interrupted one is not: it is left to be resumed, promptly.
	var failed *pipeline.StageFailedError
	if runErr == nil || errors.As(runErr, &failed) {
		if _, err := export.Write(context.WithoutCancel(ctx), st, dir); err != nil {
			return res, fmt.Errorf("exports: %w", err)
		}
	}
	return res, runErr
}

// openCache opens another run's store to read its cached model answers:
// path is a run folder or its store file. It is opened read-only, so that
// it may be a shard another process is still writing, or on a read-only
// volume.
func openCache(path string) (*store.Store, error) {
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		return store.OpenReadOnly(path) // refused unless a run store of this schema
	}
	f, err := runfolder.Existing(path)
	if err != nil {
		return nil, err
	}
	return store.OpenReadOnly(f.Store())
}

// Keys of the store's metadata that say what a run folder holds:
// SelectionKey the fingerprint of the dataset's paths, format, limit and
// sample, and DatasetKey the identity of the dataset's files as the run
// began (runfolder.FileID, encoded), both the same in every shard of a run;
// ShardKey the shard ("i/N"; "" for the whole run or a merge of shards).
const (
	SelectionKey = "selection"
	DatasetKey   = "dataset_files"
	ShardKey     = "shard"
)

func shardMismatch(dir, was, now string) error {
	switch {
	case was == "":
		return fmt.Errorf("%s holds a whole run (or a merge of shards), not shard %s; give the shard its own --out", dir, now)
	case now == "":
		return fmt.Errorf("%s holds shard %s of a run; add --shard %s to resume it, or use another --out for the whole run", dir, was, was)
	}
	return fmt.Errorf("%s holds shard %s of a run, not shard %s; each shard needs its own --out", dir, was, now)
}

// resolve returns cfg with the command line's overrides applied, so that the
// run folder's config.toml says what the run did.
func resolve(cfg *config.Config, opts Options) *config.Config {
	c := *cfg
	if len(opts.Dataset) > 0 {
		c.Dataset.Paths = opts.Dataset
		if opts.Format != "" {
			c.Dataset.Format = opts.Format
		}
	}
	if opts.Limit > 0 {
		c.Dataset.Limit = opts.Limit
	}
	if opts.Out != "" {
		if abs, err := filepath.Abs(opts.Out); err == nil {
			c.Run.Out = abs
		} else {
			c.Run.Out = opts.Out
		}
	}
	return &c
}

// loadStages loads each stage's plugin with its config and prompt; log
// receives what the plugins write.
func loadStages(ctx context.Context, cfg *config.Config, models *model.Client, m *runfolder.Manifest, log *slog.Logger) ([]pipeline.Stage, func(), error) {
	var stages []pipeline.Stage
	closeAll := func() {
		for _, s := range stages {
			s.Plugin.Close()
		}
	}
	for _, sc := range cfg.Stages {
		// Interrupted between two loads: the next one would only be closed
		// again (a gRPC plugin's start can take seconds).
		if err := context.Cause(ctx); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("loading stage %s: interrupted: %w", sc.Name, err)
		}
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
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				// Whatever the backend made of the cancellation, it is one.
				err = fmt.Errorf("interrupted: %w (%v)", context.Cause(ctx), err)
			}
			return nil, nil, fmt.Errorf("stage %s: %w", sc.Name, err)
		}
		promptSHA := ""
		if prompt != nil {
			promptSHA = sha(prompt)
		}
		id := &pipeline.Identity{Plugin: sc.Plugin, SHA256: info.SHA256, Version: info.Manifest.Version, Config: confJSON,
			Prompt: promptSHA, Model: modelSpec, Keep: sc.Keep}
		fp := id.Fingerprint()
		stages = append(stages, pipeline.Stage{Name: sc.Name, Plugin: p, Keep: sc.Keep, Models: caller, Fingerprint: fp, Identity: id})
		if err := context.Cause(ctx); err != nil {
			// Loaded as the signal came: closed with the others.
			closeAll()
			return nil, nil, fmt.Errorf("stage %s: interrupted: %w", sc.Name, err)
		}
		m.Stages = append(m.Stages, runfolder.StageInfo{Name: sc.Name, Plugin: runfolder.PluginInfo(info), ConfigJSON: confJSON, PromptFile: sc.Prompt,
			PromptSHA256: promptSHA, Model: sc.Model, Keep: sc.Keep, Fingerprint: fp})
	}
	return stages, closeAll, nil
}

// previousStages is what an earlier invocation's manifest says of its
// stages, for a store that kept no identities (a run folder from before
// they were kept). The manifest names a stage's model but not its settings:
// a model of the same name as now is taken as unchanged.
func previousStages(m *runfolder.Manifest, cfg *config.Config, now []pipeline.Stage) []pipeline.StageRecord {
	if m == nil {
		return nil
	}
	var out []pipeline.StageRecord
	for _, s := range m.Stages {
		id := &pipeline.Identity{Plugin: s.Plugin.Ref, SHA256: s.Plugin.SHA256, Version: s.Plugin.Manifest.Version,
			Config: s.ConfigJSON, Prompt: s.PromptSHA256, Keep: s.Keep}
		if s.Model != "" {
			id.Model = "model " + s.Model // unlike any spec: changed, unless named as now
		}
		for i, sc := range cfg.Stages {
			if sc.Name == s.Name && sc.Model == s.Model && i < len(now) && now[i].Identity != nil {
				id.Model = now[i].Identity.Model
			}
		}
		out = append(out, pipeline.StageRecord{Name: s.Name, Fingerprint: s.Fingerprint, Identity: id})
	}
	return out
}

// describeFiles joins what the reader found in each file with its identity.
func describeFiles(files []dataset.File, ids []runfolder.FileID) []runfolder.FileInfo {
	var out []runfolder.FileInfo
	for i, f := range files {
		fi := runfolder.FileInfo{Path: f.Path, Source: f.Source, Format: f.Format, Container: f.Container,
			Compress: f.Compress, Records: f.Records, Conversations: f.Convs, BadRecords: f.Bad}
		if i < len(ids) && ids[i].Path == f.Path {
			fi.Size, fi.SHA256 = ids[i].Size, ids[i].SHA256
		}
		out = append(out, fi)
	}
	return out
}

func writeConfigs(cfg *config.Config, f runfolder.Folder, opts Options) error {
	var buf bytes.Buffer
	buf.WriteString("# The run's config as resolved: absolute paths, defaults filled in, the command line's\n")
	buf.WriteString("# --dataset, --format, --limit, --model, --base-url and --out applied.\n")
	if opts.Sample > 0 {
		fmt.Fprintf(&buf, "# Sampled on the command line: --sample %d --seed %d (also in manifest.json).\n", opts.Sample, opts.Seed)
	}
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return fmt.Errorf("writing resolved config: %w", err)
	}
	if err := atomicfile.WriteBytes(f.Config(), buf.Bytes()); err != nil {
		return err
	}
	return atomicfile.WriteBytes(f.OrigConfig(), cfg.Source)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
