// Package pipeline runs a dataset's conversations through a run's stages,
// in order, with a bounded pool of workers, and writes every result to the
// run store as it comes.
//
// Each (conversation, stage) pair is done at most once: the store records it
// in the same transaction as its annotations, and a run resumed after any
// interruption skips what the store has. The work for one conversation is a
// pure function of the conversation, the stages and the model responses, so
// a resumed run gives the same results as an uninterrupted one.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Stage is one configured stage with its loaded plugin.
type Stage struct {
	Name   string
	Plugin plugin.Plugin
	// Keep, for a classifier, lists the labels that go on to later stages;
	// empty: every conversation goes on (the stage only labels).
	Keep []string
	// Models performs the plugin's model calls; nil when the stage has no model.
	Models plugin.ModelCaller
	// Fingerprint identifies everything that decides the stage's output
	// (see Fingerprint); a change invalidates this stage and the ones after.
	Fingerprint string
	// Identity, when set, is what Fingerprint hashes, part by part: a run
	// resumed after a change says which part changed (Options.Plan).
	Identity *Identity
}

// Fingerprint hashes the parts that decide a stage's output.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Options control a run.
type Options struct {
	// Workers is the number of conversations processed at once; default
	// GOMAXPROCS. Model-backed stages want many more than cores: a worker
	// mostly waits for its model calls.
	Workers int
	// Limit stops after the first Limit conversations of the dataset (0: all).
	Limit int
	// Sample, when > 0, processes a deterministic random sample of Sample
	// conversations chosen by Seed (an extra pass over the dataset).
	Sample int
	Seed   int64
	// Shard, when its Count > 1, processes only the conversations of the
	// selection (after Limit and Sample) whose ID falls in that shard. They
	// keep the positions they have in the whole selection, so that the
	// stores of all the shards together hold exactly what one run's would
	// (package merge joins them).
	Shard dataset.Shard
	// MaxRounds bounds model-call rounds per conversation and stage.
	MaxRounds int
	// MaxFailureShare stops the run early (a *StageFailedError) once a
	// stage has failed for more than this share of the conversations it
	// processed in this run, counted from FailureShareAfter of them on: a
	// stage that fails that often is broken (a plugin bug, a bad config, a
	// model that is down), and going on would spend time and model calls on
	// errors. 0 or 1 and above: never stop.
	MaxFailureShare float64
	// Plan, if set, is told what a resumed run does with each stage (kept,
	// redone and why, new, dropped) before any conversation is read.
	Plan func([]StagePlan)
	// Previous is what the caller knows of the stages of the run before,
	// for a run store that kept no identities (made before they were kept).
	Previous []StageRecord
	// Progress, if set, is called about every ProgressEvery with the counts so far.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Log           *slog.Logger
}

// Progress counts a run as it goes (see runfolder.Progress: the manifest
// records it as it is).
type Progress = runfolder.Progress

// FailureShareAfter is how many conversations a stage must have processed
// before MaxFailureShare applies: a few early failures are not yet a share
// (a stage failing 10% of conversations crosses 50% in its first 20 with a
// probability of about 1e-6).
const FailureShareAfter = 20

// StageFailedError is why a run stopped early: a stage failed for more than
// Options.MaxFailureShare of the conversations it processed.
type StageFailedError struct {
	Stage     string
	Failed    int64 // conversations the stage failed for in this run
	Processed int64 // conversations the stage processed in this run
	MaxShare  float64
	// Common is the most common error message (truncated), Times how many
	// of the failures gave it.
	Common string
	Times  int64
}

func (e *StageFailedError) Error() string {
	return fmt.Sprintf("stage %s failed for %d of the %d conversations it processed (%.0f%%, more than max_failure_share = %g); most common error (%d of %d): %s",
		e.Stage, e.Failed, e.Processed, 100*float64(e.Failed)/float64(max(e.Processed, 1)), e.MaxShare, e.Times, e.Failed, e.Common)
}

// Opener opens the dataset; a sampled run reads it twice.
type Opener func() (dataset.Source, error)

// Run processes the dataset. It returns when every conversation is done, the
// context is cancelled (what was finished is in the store; run again to
// resume), or a fatal error occurs (dataset unreadable, store failing).
func Run(ctx context.Context, open Opener, st *store.Store, stages []Stage, opts Options) (Progress, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	fps := make([]store.Stage, len(stages))
	for i, s := range stages {
		// (plugin.Load refused a kind it does not know.)
		if m := s.Plugin.Manifest(); plugin.StageError(m) != nil {
			return Progress{}, fmt.Errorf("stage %s: plugin %s %w", s.Name, m.Name, plugin.StageError(m))
		}
		fps[i] = store.Stage{Name: s.Name, Fingerprint: s.Fingerprint}
	}
	prev, err := readRecords(st)
	if err != nil {
		return Progress{}, err
	}
	if prev == nil {
		prev = opts.Previous
	}
	invalidated, err := st.SetStages(fps)
	if err != nil {
		return Progress{}, fmt.Errorf("run store: %w", err)
	}
	// After SetStages: a run killed between the two is told of changes
	// the store did not make, which plan ignores (the store decides).
	if err := writeRecords(st, stages); err != nil {
		return Progress{}, fmt.Errorf("run store: %w", err)
	}
	if len(invalidated) > 0 {
		opts.Log.Info("stages changed since the last run; their results are redone", "stages", invalidated)
	}
	done, err := st.LoadDone(ctx)
	if err != nil {
		return Progress{}, fmt.Errorf("run store: %w", err)
	}
	if opts.Plan != nil && (prev != nil || len(invalidated) > 0) {
		opts.Plan(plan(stages, prev, invalidated, done))
	}
	var sample map[string]bool
	if opts.Sample > 0 {
		if sample, err = chooseSample(ctx, open, opts.Sample, opts.Seed); err != nil {
			return Progress{}, err
		}
	}
	src, err := open()
	if err != nil {
		return Progress{}, err
	}
	defer src.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &runner{stages: stages, opts: opts, done: done, start: time.Now(), firsts: newFirsts(), stop: cancel, tallies: make([]tally, len(stages))}
	r.src, _ = src.(byteProgress)
	// Conversations read ahead and results waiting to be written: two and
	// four a worker, up to 256 workers' worth. A run with thousands of
	// workers waiting for a model batch would only hold more conversations
	// in memory that no worker is free to take.
	buffered := min(opts.Workers, 256)
	jobs := make(chan job, buffered*2)
	results := make(chan store.Result, buffered*4)
	bad := make(chan store.BadRecord, 64)

	var writeErr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		writeErr = r.write(ctx, st, results, bad)
		if writeErr != nil {
			cancel(writeErr)
		}
	}()
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() { r.work(ctx, jobs, results) })
	}
	stopProgress := r.reportProgress(opts)
	readErr := r.read(ctx, src, sample, jobs, bad)
	close(jobs)
	wg.Wait()
	close(results)
	close(bad)
	<-writerDone
	stopProgress()
	p := r.progress()
	p.Finished = readErr == nil && writeErr == nil && ctx.Err() == nil
	if opts.Progress != nil {
		opts.Progress(p)
	}
	switch {
	case writeErr != nil:
		return p, fmt.Errorf("run store: %w", writeErr)
	case readErr != nil:
		return p, readErr
	}
	return p, context.Cause(ctx)
}

type job struct {
	seq  int64
	conv *conversation.Conversation
	sha  string // conversation.ContentID of its turns
}

type runner struct {
	stages []Stage
	opts   Options
	src    byteProgress // nil: the source cannot say
	done   store.Done
	start  time.Time
	firsts *firsts // the conversations read, for duplicates

	convs, completed, skipped, errors, bad atomic.Int64
	// stop ends the run early with its cause (a *StageFailedError).
	stop    context.CancelCauseFunc
	tallies []tally // per stage, for MaxFailureShare
}

// tally counts one stage's outcomes in this run and its error messages.
type tally struct {
	mu                sync.Mutex
	processed, failed int64
	messages          map[string]int64
	stopped           bool
}

// Bounds on what a tally keeps of error messages: enough to name the most
// common one, not a copy of every error a broken stage gives.
const (
	maxMessages   = 64
	maxMessageLen = 300
)

// pids matches the process ids in a crashed plugin's errors, which differ
// at every restart: counted without them, one crash is one message.
var pids = regexp.MustCompile(`\(pid \d+\)`)

// cacheKeys matches the model cache keys (hex SHA-256) in errors about one
// call, which differ for every call.
var cacheKeys = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// maxErrorLen bounds a stored error message: a plugin's own error is at most
// protocol.MaxErrorBytes, and the host's context around it is short.
const maxErrorLen = 8 << 10

// count records one outcome of stage i for conversation id and stops the run
// once the stage has failed for more than its allowed share. Messages are
// counted with the conversation's ID and any cache key taken out
// ("conversation demo-001: ..." is one message whatever the conversation).
func (r *runner) count(i int, id, errMsg string) {
	share := r.opts.MaxFailureShare
	t := &r.tallies[i]
	t.mu.Lock()
	defer t.mu.Unlock()
	t.processed++
	if errMsg == "" {
		return
	}
	t.failed++
	if id != "" {
		errMsg = strings.ReplaceAll(errMsg, "conversation "+id, "conversation …")
	}
	errMsg = cacheKeys.ReplaceAllString(pids.ReplaceAllString(errMsg, "(pid …)"), "…")
	errMsg = plugin.Printable(errMsg, maxMessageLen)
	if t.messages == nil {
		t.messages = map[string]int64{}
	}
	if _, ok := t.messages[errMsg]; ok || len(t.messages) < maxMessages {
		t.messages[errMsg]++
	}
	if share <= 0 || share >= 1 || t.stopped || t.processed < FailureShareAfter || float64(t.failed) <= share*float64(t.processed) {
		return
	}
	t.stopped = true
	e := &StageFailedError{Stage: r.stages[i].Name, Failed: t.failed, Processed: t.processed, MaxShare: share}
	for msg, n := range t.messages {
		if n > e.Times || (n == e.Times && msg < e.Common) {
			e.Common, e.Times = msg, n
		}
	}
	r.stop(e)
}

func (r *runner) progress() Progress {
	p := Progress{
		Conversations: r.convs.Load(), Done: r.completed.Load(), Skipped: r.skipped.Load(),
		Errors: r.errors.Load(), BadRecords: r.bad.Load(), Elapsed: time.Since(r.start),
	}
	if r.src != nil {
		p.DatasetRead, p.DatasetSize = r.src.Progress()
	}
	return p
}

// byteProgress is a source that says how far through its bytes reading is
// (*dataset.Reader).
type byteProgress interface{ Progress() (read, size int64) }

func (r *runner) reportProgress(opts Options) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	t := time.NewTicker(opts.ProgressEvery)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-t.C:
				opts.Progress(r.progress())
			case <-quit:
				return
			}
		}
	})
	return func() { t.Stop(); close(quit); wg.Wait() }
}

// read streams the dataset, numbering conversations in order, and hands out
// those not yet complete.
func (r *runner) read(ctx context.Context, src dataset.Source, sample map[string]bool, jobs chan<- job, bad chan<- store.BadRecord) error {
	var seq int64
	for {
		if r.opts.Limit > 0 && seq >= int64(r.opts.Limit) {
			return nil
		}
		c, err := src.Next()
		if err == io.EOF {
			return nil
		}
		var br *dataset.BadRecord
		if errors.As(err, &br) {
			r.bad.Add(1)
			select {
			case bad <- store.BadRecord{File: br.File, Record: br.Record, Line: br.Line, Reason: br.Reason}:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		if sample != nil && !sample[c.Source+"\x00"+c.ID] {
			continue
		}
		seq++
		if !r.opts.Shard.Keep(c.ID) {
			continue
		}
		sha := conversation.ContentID(c.Turns)
		loc := dataset.Location{File: c.Source, Record: seq}
		if l, ok := src.(locator); ok {
			loc = l.Location()
		}
		if why := r.firsts.check(c.ID, c.Source, sha, loc); why != "" {
			r.bad.Add(1)
			select {
			case bad <- store.BadRecord{File: loc.File, Record: loc.Record, Line: loc.Line, Reason: why, Conversation: c.ID}:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		r.convs.Add(1)
		if r.complete(seq) {
			r.skipped.Add(1)
			continue
		}
		// The reader reuses its buffers: hand the worker its own copy.
		cc := *c
		select {
		case jobs <- job{seq: seq, conv: &cc, sha: sha}:
		case <-ctx.Done():
			return nil
		}
	}
}

// complete reports whether a conversation needs no more work: every stage is
// done, or an earlier filter stage dropped it, or failed.
func (r *runner) complete(seq int64) bool {
	d := r.done[seq]
	for _, s := range r.stages {
		res, ok := d[s.Name]
		if !ok {
			return false
		}
		if len(s.Keep) > 0 && (!res.OK || !kept(s.Keep, res.Labels)) {
			return true
		}
	}
	return true
}

func kept(keep, labels []string) bool {
	for _, l := range labels {
		if slices.Contains(keep, l) {
			return true
		}
	}
	return false
}

// work runs conversations through the stages they still need.
func (r *runner) work(ctx context.Context, jobs <-chan job, results chan<- store.Result) {
	for j := range jobs {
		if ctx.Err() != nil {
			continue // drain: the run is stopping
		}
		conv, err := storeConversation(j)
		if err != nil {
			r.opts.Log.Error("conversation cannot be stored", "id", j.conv.ID, "err", err)
			continue
		}
		pc := plugin.FromConversation(j.conv, conv.MetaJSON)
		prior := r.done[j.seq]
		for i, s := range r.stages {
			res, already := prior[s.Name]
			if !already {
				out := r.runStage(ctx, s, conv, pc)
				if ctx.Err() != nil {
					break // an interrupted call is not a result: redo it on resume
				}
				select {
				case results <- out:
				case <-ctx.Done():
				}
				// Counted once stored: the result that stops the run is kept.
				r.count(i, conv.ID, out.Err)
				res = store.StageResult{OK: out.Err == ""}
				for _, a := range out.Items {
					if a.IsLabel {
						res.Labels = append(res.Labels, a.Value)
					}
				}
			}
			if len(s.Keep) > 0 && (!res.OK || !kept(s.Keep, res.Labels)) {
				break
			}
		}
		r.completed.Add(1)
	}
}

func (r *runner) runStage(ctx context.Context, s Stage, conv store.Conversation, pc *protocol.Conversation) store.Result {
	out := store.Result{Conv: conv, Stage: s.Name}
	// The model client names the conversation in its errors and logs.
	ctx = model.WithConversation(ctx, conv.ID)
	anns, err := plugin.Annotate(ctx, s.Plugin, pc, s.Models, r.opts.MaxRounds)
	// Before the result is stored: a failure whose answers stayed cached
	// would be replayed by --retry-errors.
	if st, ok := s.Models.(Settler); ok {
		if serr := st.Settle(ctx, conv.ID, err); serr != nil {
			r.stop(fmt.Errorf("stage %s: %w", s.Name, serr)) // the result is not kept: redone on resume
		}
	}
	if err != nil {
		r.errors.Add(1)
		// Stored, exported and printed: whatever of the plugin's own text
		// the error carries is escaped, and the whole is bounded.
		out.Err = plugin.Printable(err.Error(), maxErrorLen)
		return out
	}
	field := s.Plugin.Manifest().Field
	for _, a := range anns {
		f := a.Field
		if f == "" {
			f = field
		}
		if a.Label != "" {
			out.Items = append(out.Items, store.Annotation{Field: f, Value: a.Label, IsLabel: true})
		}
		for _, it := range a.Items {
			var attrs string
			if len(it.Attrs) > 0 {
				b, _ := json.Marshal(it.Attrs, json.Deterministic(true))
				attrs = string(b)
			}
			out.Items = append(out.Items, store.Annotation{Field: f, Value: it.Name, AttrsJSON: attrs})
		}
	}
	return out
}

// Settler is what a stage's Models may also be (the model package's
// Caller): told, once the stage is done with a conversation and before its
// result is stored, whether it failed (err), so that the model answers it
// failed with are not replayed. An error stops the run.
type Settler interface {
	Settle(ctx context.Context, conversation string, err error) error
}

func storeConversation(j job) (store.Conversation, error) {
	meta := ""
	if len(j.conv.Meta) > 0 {
		b, err := json.Marshal(j.conv.Meta, json.Deterministic(true))
		if err != nil {
			return store.Conversation{}, err
		}
		meta = string(b)
	}
	return store.Conversation{Seq: j.seq, ID: j.conv.ID, Source: j.conv.Source,
		ContentSHA: j.sha, MetaJSON: meta}, nil
}

// write stores results in batches: a transaction per batch rather than per
// result keeps SQLite's commit cost off the workers' path.
func (r *runner) write(ctx context.Context, st *store.Store, results <-chan store.Result, bad <-chan store.BadRecord) error {
	const maxBatch = 256
	const maxDelay = 200 * time.Millisecond
	batch := make([]store.Result, 0, maxBatch)
	var bads []store.BadRecord
	tick := time.NewTicker(maxDelay)
	defer tick.Stop()
	flush := func() error {
		// A cancelled run still commits what finished: the store must not
		// lose work because the context ended.
		wctx := context.WithoutCancel(ctx)
		if err := st.AddBadRecords(wctx, bads); err != nil {
			return err
		}
		bads = bads[:0]
		if len(batch) == 0 {
			return nil
		}
		err := st.Write(wctx, batch)
		batch = batch[:0]
		return err
	}
	for results != nil || bad != nil {
		select {
		case res, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			batch = append(batch, res)
			if len(batch) == maxBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		case b, ok := <-bad:
			if !ok {
				bad = nil
				continue
			}
			bads = append(bads, b)
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// chooseSample picks n conversations by the smallest hashes of (seed, key):
// deterministic for a seed, uniform, and independent of the dataset's order.
func chooseSample(ctx context.Context, open Opener, n int, seed int64) (map[string]bool, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	type scored struct {
		h   uint64
		key string
	}
	var all []scored
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, err := src.Next()
		if err == io.EOF {
			break
		}
		if dataset.IsBad(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		key := c.Source + "\x00" + c.ID
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", seed, key)
		all = append(all, scored{h.Sum64(), key})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.h != b.h {
			if a.h < b.h {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		return 1
	})
	chosen := make(map[string]bool, min(n, len(all)))
	for _, s := range all[:min(n, len(all))] {
		chosen[s.key] = true
	}
	return chosen, nil
}
