// Package merge joins the run folders of a run's shards (valuescope run
// --shard i/N, one per machine or pod) into one run folder, as if one
// process had run the whole dataset: its store holds every shard's
// conversations at the positions the whole run gives them, so its exports,
// analysis and report are the single run's, byte for byte apart from times
// and paths.
//
// Merging checks that the folders are the parts of one run before it copies
// anything: the same config (stages, their plugins, configs, prompts and
// models, by fingerprint), the same dataset (files by size and SHA-256) and
// selection, one folder per shard index, every shard finished. Shards are
// locked while they are read: a shard still being written is refused, not
// half-copied.
package merge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/export"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

// Options control a merge.
type Options struct {
	// Partial merges what there is: shards missing from the list and
	// shards whose run did not finish. The merged run says what is missing
	// (its manifest is not Complete); `valuescope run CONFIG --out OUT`
	// then finishes it in one process, or a merge of all the shards
	// replaces it.
	Partial bool
	// NoReport skips report.html.
	NoReport bool
}

// Result is what a merge made.
type Result struct {
	Dir      string
	Manifest *runfolder.Manifest
	// Shards are the folders merged, by shard index.
	Shards []Shard
	// Missing are the indices no folder was given for, Unfinished those
	// whose run had not finished (both empty unless Options.Partial).
	Missing, Unfinished []int
	// Report is the path of report.html, when one was written, and
	// Taxonomy what its tree is.
	Report   string
	Taxonomy *report.TreeInfo
}

// Shard is one merged shard folder.
type Shard struct {
	Index    int
	Dir      string
	Complete bool
	Copied   store.MergeCounts
}

// part is a shard folder as read before merging.
type part struct {
	dir      string
	shard    dataset.Shard
	manifest *runfolder.Manifest
	meta     map[string]string
	stages   []store.Stage
	lock     *runfolder.Lock
	// neverStarted: killed before its first manifest; nothing was done.
	neverStarted bool
}

func (p *part) complete() bool {
	n := len(p.manifest.Invocations)
	return p.manifest.Run.Complete && n > 0 && p.manifest.Invocations[n-1].Complete
}

func (p *part) String() string { return fmt.Sprintf("shard %s (%s)", p.shard, p.dir) }

// Merge joins the shard folders dirs into the run folder out: a new folder,
// or one an earlier merge made (which is replaced). The shards are only
// read. On an error out is left as it was, or, for an error while writing,
// without a store (a merge run again redoes it).
func Merge(ctx context.Context, out string, dirs []string, opts Options) (_ *Result, err error) {
	res := &Result{Dir: out}
	if len(dirs) == 0 {
		return res, errors.New("no shard folders to merge")
	}
	parts, err := readParts(out, dirs)
	defer func() {
		for _, p := range parts {
			p.lock.Unlock()
		}
	}()
	if err != nil {
		return res, err
	}
	if err := check(parts, opts, res); err != nil {
		return res, err
	}
	ref := reference(parts)

	claim, err := runfolder.Claim(out, "valuescope merge")
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil && claim.New {
			claim.Abandon() // nothing of a failed merge is left in a folder it made
		} else {
			claim.Release()
		}
	}()
	if !claim.New {
		if err := clearEarlierMerge(claim.Folder); err != nil {
			return res, err
		}
	}
	start := time.Now().UTC()
	// The manifest first, saying the merge is not complete: from here on
	// the folder is a merge (a later merge replaces it), whatever stops
	// this one.
	m := manifest(parts, res, out, start)
	complete := m.Run.Complete
	m.Run.Complete = false
	if err := claim.WriteManifest(m); err != nil {
		return res, err
	}
	tmp := claim.Path(".merging-" + runfolder.StoreFile + ".tmp") // atomicfile.IsTemp: removed by the next claim
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	st, err := store.Open(tmp)
	if err != nil {
		return res, err
	}
	defer func() {
		if st != nil {
			st.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := st.SetStages(ref.stages); err != nil {
		return res, fmt.Errorf("merged store: %w", err)
	}
	for k, v := range ref.meta {
		if k == run.ShardKey {
			v = "" // the whole run
		}
		if err := st.SetMeta(k, v); err != nil {
			return res, fmt.Errorf("merged store: %w", err)
		}
	}
	for _, p := range parts {
		if p.neverStarted {
			continue // nothing in it
		}
		n, err := st.Merge(ctx, runfolder.Folder(p.dir).Store())
		if err != nil {
			return res, err
		}
		res.Shards = append(res.Shards, Shard{Index: p.shard.Index, Dir: p.dir, Complete: p.complete(), Copied: n})
	}
	counts, err := st.Count(ctx)
	if err != nil {
		return res, err
	}
	if err := st.Close(); err != nil {
		return res, fmt.Errorf("merged store: %w", err)
	}
	st = nil
	if err := os.Rename(tmp, claim.Store()); err != nil {
		return res, fmt.Errorf("merged store: %w", err)
	}
	for _, name := range []string{runfolder.ConfigFile, runfolder.OrigConfigFile} {
		b, err := os.ReadFile(runfolder.Folder(ref.dir).Path(name))
		if err != nil {
			return res, fmt.Errorf("%s: %w", ref, err)
		}
		if err := atomicfile.WriteBytes(claim.Path(name), b); err != nil {
			return res, err
		}
	}
	merged, err := store.OpenReadOnly(claim.Store())
	if err != nil {
		return res, err
	}
	_, err = export.Write(ctx, merged, out)
	merged.Close()
	if err != nil {
		return res, fmt.Errorf("exports: %w", err)
	}
	// Complete once the store and its exports are in place (the report can
	// be written again at any time: valuescope report).
	m.Counts, m.Run.Complete, m.Progress.Finished = counts, complete, complete
	m.Progress.Conversations, m.Progress.Done = counts.Conversations, counts.Conversations
	m.Progress.Errors, m.Progress.BadRecords, m.Progress.Elapsed = counts.Total(), counts.BadRecords, time.Since(start)
	// Every shard reads the whole dataset: a finished one read it all.
	m.Progress.DatasetRead, m.Progress.DatasetSize = ref.manifest.Progress.DatasetRead, ref.manifest.Progress.DatasetSize
	if err := claim.WriteManifest(m); err != nil {
		return res, err
	}
	res.Manifest = m
	if opts.NoReport {
		return res, nil
	}
	d, err := report.Build(ctx, out, report.Options{})
	if err == nil {
		err = report.Write(out, d)
	}
	if err != nil {
		return res, fmt.Errorf("report: %w", err)
	}
	res.Report, res.Taxonomy = claim.Path(report.HTMLFile), d.Taxonomy
	return res, nil
}

// readParts opens and locks each shard folder and reads what the checks
// need, sorted by shard index. The parts read so far are returned with an
// error too, for their locks to be released.
func readParts(out string, dirs []string) ([]*part, error) {
	outInfo, _ := os.Stat(out)
	var parts []*part
	var seen []os.FileInfo
	for i, dir := range dirs {
		f, err := runfolder.Existing(dir)
		if err != nil {
			return parts, err
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return parts, err
		}
		if outInfo != nil && os.SameFile(fi, outInfo) {
			return parts, fmt.Errorf("%s is both the merged folder and a shard: give the merge its own folder", dir)
		}
		// Before its lock: the second lock of one folder would be refused
		// as if another process held it.
		for j, o := range seen {
			if os.SameFile(fi, o) {
				return parts, fmt.Errorf("%s is given twice (as %s and %s)", dir, dirs[j], dirs[i])
			}
		}
		seen = append(seen, fi)
		p := &part{dir: dir}
		if p.lock, err = f.Lock("valuescope merge into " + out); err != nil {
			var busy *runfolder.BusyError
			switch {
			case errors.As(err, &busy):
				return parts, fmt.Errorf("%s is still being written by %s: merge it once its run has stopped", dir, busy.Holder)
			case errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission):
				// A folder nobody can write (a read-only volume): nobody is
				// writing it either.
			default:
				return parts, err
			}
		}
		parts = append(parts, p)
		if p.manifest, err = f.ReadManifest(); err != nil {
			return parts, err
		}
		if p.manifest == nil {
			p.manifest, p.neverStarted = &runfolder.Manifest{}, true
		}
		st, err := store.OpenReadOnly(f.Store())
		if err != nil {
			return parts, err
		}
		p.meta, err = st.MetaAll(context.Background())
		if err == nil {
			p.stages, err = st.Stages(context.Background())
		}
		if err == nil {
			// A shard merged as it was killed: its last invocation's usage
			// is in its store, not yet in its manifest.
			var recorded map[string][]byte
			if recorded, err = st.ModelUsage(context.Background()); err == nil {
				p.manifest.FillUsage(recorded)
			}
		}
		st.Close()
		if err != nil {
			return parts, fmt.Errorf("%s: reading its store: %w", dir, err)
		}
		sh := p.meta[run.ShardKey]
		if sh == "" && p.neverStarted {
			return parts, fmt.Errorf("%s has no %s: its run never started (run its command again)", dir, runfolder.ManifestFile)
		}
		if sh == "" {
			what := "a whole run (made without --shard)"
			if p.manifest.Merged != nil {
				what = "a merge of shards"
			}
			return parts, fmt.Errorf("%s is not a shard: it holds %s", dir, what)
		}
		if p.shard, err = dataset.ParseShard(sh); err != nil {
			return parts, fmt.Errorf("%s: %w", dir, err)
		}
	}
	slices.SortStableFunc(parts, func(a, b *part) int { return a.shard.Index - b.shard.Index })
	return parts, nil
}

// check refuses parts that are not the shards of one run, a shard given
// twice, and (unless opts.Partial) missing or unfinished shards, which it
// records in res.
func check(parts []*part, opts Options, res *Result) error {
	ref := reference(parts)
	if ref == nil {
		return errors.New("none of the shards' runs has started: run their commands first")
	}
	seen := map[int]*part{}
	for _, p := range parts {
		if p.shard.Count != ref.shard.Count {
			return fmt.Errorf("%s and %s split the run differently (into %d and %d shards)", ref, p, ref.shard.Count, p.shard.Count)
		}
		if q := seen[p.shard.Index]; q != nil {
			return fmt.Errorf("shard %s is given twice: %s and %s", p.shard, q.dir, p.dir)
		}
		seen[p.shard.Index] = p
		if p.neverStarted {
			res.Unfinished = append(res.Unfinished, p.shard.Index)
			continue
		}
		if diffs := differences(ref, p); len(diffs) > 0 {
			return fmt.Errorf("%s and %s are not parts of one run: %s", ref, p, strings.Join(diffs, "; "))
		}
		if !p.complete() {
			res.Unfinished = append(res.Unfinished, p.shard.Index)
		}
	}
	for i := range ref.shard.Count {
		if seen[i] == nil {
			res.Missing = append(res.Missing, i)
		}
	}
	if opts.Partial {
		return nil
	}
	var problems []string
	if len(res.Missing) > 0 {
		problems = append(problems, fmt.Sprintf("no folder for shard %s of %d", indices(res.Missing), ref.shard.Count))
	}
	for _, i := range res.Unfinished {
		p := seen[i]
		why := "its run has not finished"
		if p.neverStarted {
			why = "its run never started"
		} else if inv := p.manifest.Invocations; len(inv) > 0 && inv[len(inv)-1].Error != "" {
			why = "its run stopped: " + inv[len(inv)-1].Error
		}
		problems = append(problems, fmt.Sprintf("%s: %s (run its command again to finish it)", p, why))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s; --partial merges what there is", strings.Join(problems, "; "))
	}
	return nil
}

// reference is the part the others are compared with and the merged run
// takes its stages and config from: the first shard whose run started (a
// folder killed before its first manifest has no stages to compare).
func reference(parts []*part) *part {
	for _, p := range parts {
		if !p.neverStarted {
			return p
		}
	}
	return nil
}

func indices(is []int) string {
	var s []string
	for _, i := range is {
		s = append(s, fmt.Sprint(i))
	}
	return strings.Join(s, ", ")
}

// differences names what makes two folders parts of different runs: the
// selection of the dataset, its files, the stages (their plugins, configs,
// prompts and models), the models' settings that decide answers. The
// stores' fingerprints decide; the manifests say what changed.
func differences(a, b *part) []string {
	var out []string
	da, db := a.manifest.Dataset, b.manifest.Dataset
	if a.meta[run.SelectionKey] != b.meta[run.SelectionKey] {
		d := []string{}
		if !slices.Equal(da.Paths, db.Paths) {
			d = append(d, fmt.Sprintf("paths %q vs %q", da.Paths, db.Paths))
		}
		if da.Format != db.Format {
			d = append(d, fmt.Sprintf("format %q vs %q", da.Format, db.Format))
		}
		if da.Limit != db.Limit {
			d = append(d, fmt.Sprintf("limit %d vs %d", da.Limit, db.Limit))
		}
		if da.Sample != db.Sample || da.Seed != db.Seed {
			d = append(d, fmt.Sprintf("sample %d (seed %d) vs %d (seed %d)", da.Sample, da.Seed, db.Sample, db.Seed))
		}
		if len(d) == 0 {
			d = append(d, "the selection's fingerprints differ")
		}
		out = append(out, "dataset: "+strings.Join(d, ", "))
	}
	if fa, fb := a.meta[run.DatasetKey], b.meta[run.DatasetKey]; fa != fb {
		out = append(out, "dataset files: "+fileDifference(fa, fb, a.dir, b.dir))
	}
	out = append(out, stageDifferences(a, b)...)
	ma, mb := map[string]model.Info{}, map[string]model.Info{}
	for _, m := range a.manifest.Models {
		ma[m.Name] = m
	}
	for _, m := range b.manifest.Models {
		mb[m.Name] = m
	}
	var md []string
	for name, x := range ma {
		y, ok := mb[name]
		switch {
		case !ok:
			md = append(md, fmt.Sprintf("model %s: only in %s", name, a.dir))
		case x.Provider != y.Provider || x.Model != y.Model || x.BaseURL != y.BaseURL || x.Options != y.Options || x.CacheVersion != y.CacheVersion:
			md = append(md, fmt.Sprintf("model %s: %s %s at %q (options %s) vs %s %s at %q (options %s)",
				name, x.Provider, x.Model, x.BaseURL, x.Options, y.Provider, y.Model, y.BaseURL, y.Options))
		case x.MaxTokens != y.MaxTokens:
			// The max_tokens of calls that set none: it decides their answers.
			md = append(md, fmt.Sprintf("model %s: max_tokens %d vs %d", name, x.MaxTokens, y.MaxTokens))
		}
	}
	for name := range mb {
		if _, ok := ma[name]; !ok {
			md = append(md, fmt.Sprintf("model %s: only in %s", name, b.dir))
		}
	}
	slices.Sort(md) // maps have no order; the message has one
	out = append(out, md...)
	return out
}

func stageDifferences(a, b *part) []string {
	names := func(p *part) []string {
		var n []string
		for _, s := range p.stages {
			n = append(n, s.Name)
		}
		return n
	}
	if na, nb := names(a), names(b); !slices.Equal(na, nb) {
		return []string{fmt.Sprintf("stages %q vs %q", na, nb)}
	}
	info := func(p *part, name string) runfolder.StageInfo {
		for _, s := range p.manifest.Stages {
			if s.Name == name {
				return s
			}
		}
		return runfolder.StageInfo{}
	}
	var out []string
	for i, sa := range a.stages {
		if sa.Fingerprint == b.stages[i].Fingerprint {
			continue
		}
		x, y := info(a, sa.Name), info(b, sa.Name)
		var d []string
		if x.Plugin.Ref != y.Plugin.Ref {
			d = append(d, fmt.Sprintf("plugin %s vs %s", x.Plugin.Ref, y.Plugin.Ref))
		} else if x.Plugin.SHA256 != y.Plugin.SHA256 || x.Plugin.Manifest.Version != y.Plugin.Manifest.Version {
			d = append(d, fmt.Sprintf("plugin %s: version %s (sha256 %.12s) vs %s (sha256 %.12s)", x.Plugin.Ref,
				x.Plugin.Manifest.Version, x.Plugin.SHA256, y.Plugin.Manifest.Version, y.Plugin.SHA256))
		}
		if x.ConfigJSON != y.ConfigJSON {
			d = append(d, fmt.Sprintf("config %s vs %s", x.ConfigJSON, y.ConfigJSON))
		}
		if x.PromptSHA256 != y.PromptSHA256 {
			d = append(d, fmt.Sprintf("prompt %s (sha256 %.12s) vs %s (sha256 %.12s)", x.PromptFile, x.PromptSHA256, y.PromptFile, y.PromptSHA256))
		}
		if x.Model != y.Model {
			d = append(d, fmt.Sprintf("model %q vs %q", x.Model, y.Model))
		}
		if !slices.Equal(x.Keep, y.Keep) {
			d = append(d, fmt.Sprintf("keep %q vs %q", x.Keep, y.Keep))
		}
		if len(d) == 0 {
			d = append(d, "its model's settings or the stages before it") // the fingerprint holds the model's provider, URL and name
		}
		out = append(out, fmt.Sprintf("stage %s: %s", sa.Name, strings.Join(d, ", ")))
	}
	return out
}

func fileDifference(a, b, dirA, dirB string) string {
	fa, err1 := runfolder.DecodeFileIDs(a)
	fb, err2 := runfolder.DecodeFileIDs(b)
	if err1 != nil || err2 != nil {
		return "their identities differ"
	}
	byPath := map[string]runfolder.FileID{}
	for _, f := range fb {
		byPath[f.Path] = f
	}
	var d []string
	for _, f := range fa {
		g, ok := byPath[f.Path]
		switch {
		case !ok:
			d = append(d, f.Path+" only in "+dirA)
		case g != f:
			d = append(d, fmt.Sprintf("%s: %d bytes (sha256 %.12s) vs %d bytes (sha256 %.12s)", f.Path, f.Size, f.SHA256, g.Size, g.SHA256))
		}
		delete(byPath, f.Path)
	}
	for p := range byPath {
		d = append(d, p+" only in "+dirB)
	}
	slices.Sort(d)
	if len(d) == 0 {
		return "their order differs"
	}
	return strings.Join(d, ", ")
}

// clearEarlierMerge empties a folder an earlier merge made (everything in
// it came from that merge), and refuses any other run folder.
func clearEarlierMerge(f runfolder.Folder) error {
	m, err := f.ReadManifest()
	if err != nil {
		return err
	}
	if _, serr := os.Stat(f.Store()); (m == nil || m.Merged == nil) && serr == nil {
		return fmt.Errorf("%s holds a run that is not a merge of shards; merge into another folder", f)
	}
	if m != nil {
		for _, inv := range m.Invocations {
			if inv.Shard == "" {
				// Work done in the folder itself (a run that finished a
				// partial merge), which no shard holds.
				return fmt.Errorf("%s holds a merge of shards that valuescope run has added to since (%s); merge into another folder, or remove it first", f, inv.Started.Format(time.RFC3339))
			}
		}
	}
	// The store first, the manifest last: stopped in between, the folder is
	// still one the next merge replaces (no store, or a merge's manifest).
	for _, p := range append(f.StoreFiles(), f.Store()+"-shm") {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	entries, err := os.ReadDir(string(f))
	if err != nil {
		return err
	}
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int {
		return cmpBool(a.Name() == runfolder.ManifestFile, b.Name() == runfolder.ManifestFile)
	})
	for _, e := range entries {
		if e.Name() == runfolder.MarkerFile || e.Name() == runfolder.LockFile {
			continue
		}
		if err := os.RemoveAll(f.Path(e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// manifest describes the merged run: the shards' stages, models and
// dataset, every invocation of every shard (each labelled with its shard)
// and their usage added up, the merged store's counts.
func manifest(parts []*part, res *Result, out string, start time.Time) *runfolder.Manifest {
	ref := reference(parts)
	complete := len(res.Missing) == 0 && len(res.Unfinished) == 0
	m := &runfolder.Manifest{
		Valuescope: runfolder.Build(),
		Run:        runfolder.RunInfo{Name: ref.manifest.Run.Name, Dir: out, Complete: complete},
		Dataset:    ref.manifest.Dataset,
		Stages:     ref.manifest.Stages,
		Models:     ref.manifest.Models,
		Merged:     &runfolder.MergeInfo{Shards: ref.shard.Count, Missing: res.Missing, Unfinished: res.Unfinished, Merged: start},
	}
	m.Dataset.Shard = ""
	// Every shard reads every file: the file counts of a finished shard
	// are the whole run's.
	for _, p := range parts {
		if p.complete() {
			m.Dataset.Files = p.manifest.Dataset.Files
			break
		}
	}
	var usage [][]model.Usage
	for _, p := range parts {
		m.Merged.From = append(m.Merged.From, runfolder.MergedShard{Shard: p.shard.String(), Dir: p.dir, Complete: p.complete()})
		for _, inv := range p.manifest.Invocations {
			inv.Shard = p.shard.String()
			m.Invocations = append(m.Invocations, inv)
			usage = append(usage, inv.Models)
		}
		if m.Run.Started.IsZero() || p.manifest.Run.Started.Before(m.Run.Started) {
			m.Run.Started = p.manifest.Run.Started
		}
		if p.manifest.Run.Finished.After(m.Run.Finished) {
			m.Run.Finished = p.manifest.Run.Finished
		}
	}
	slices.SortStableFunc(m.Invocations, func(a, b runfolder.Invocation) int { return a.Started.Compare(b.Started) })
	m.ModelUsage = model.TotalUsage(usage...)
	return m
}
