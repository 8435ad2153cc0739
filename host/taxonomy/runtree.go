package taxonomy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
)

// Bounds of a run's own taxonomy (RunTree), in distinct values of its field
// (by normalised name).
const (
	// MinRunValues: with fewer, a run has no taxonomy of its own (the
	// paper's proportions give a tree of one or two clusters).
	MinRunValues = 20
	// MaxRunValues: with more, RunTree does not cluster them unasked (3,307
	// values take about 5 s; 100,000 minutes): `valuescope taxonomy build
	// RUN` does, and RunTree then reuses its file.
	MaxRunValues = 20000
	// DefaultSeed is the seed of k-means in a run's taxonomy and in
	// `taxonomy build`.
	DefaultSeed = 1
)

// RunTreeOptions control RunTree.
type RunTreeOptions struct {
	// Embedder embeds the values (nil: the built-in offline embedder,
	// loaded only when a tree is built).
	Embedder Embedder
	// Max bounds the distinct values clustered (0: MaxRunValues).
	Max int
	// NamePass is the privacy floor of cluster names (Options.NamePass).
	NamePass func(key string) bool
}

// RunTreeInfo says where a run's tree came from.
type RunTreeInfo struct {
	// Built or reused from File; neither when the tree is nil, and Note
	// says why.
	Built, Reused bool
	File          string
	// Values is the field's number of distinct values by Key.
	Values int
	// Seconds is the time the build took.
	Seconds float64
	Note    string
}

// RunTree returns the run's own taxonomy of field, the tree `valuescope
// taxonomy build RUN --field FIELD` makes with its defaults (levels in the
// paper's proportions, k-means, the built-in namer, seed DefaultSeed):
//
//   - the run folder's tree file (runfolder.Folder.TreeFile) is reused when
//     it was modified after the run's store: nothing was added since;
//   - else, when the field has MinRunValues to o.Max distinct values, the
//     tree is built and written there (whole or not at all, so a half-written
//     tree is never reused);
//   - else the tree is nil and the info's Note says why and how to make one.
//
// A build that fails for the values (too few distinct embeddings for the
// levels) is a nil tree with a Note, not an error: what needs the tree can
// stand without it.
func RunTree(ctx context.Context, dir, field string, o RunTreeOptions) (*Tree, *RunTreeInfo, error) {
	folder := runfolder.Folder(dir)
	path := folder.TreeFile(field)
	info := &RunTreeInfo{File: path}
	vals, err := ReadRun(ctx, dir, field)
	if errors.Is(err, ErrNoValues) {
		vals, err = nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the run's taxonomy: %w", err)
	}
	keys := map[string]bool{}
	for _, v := range vals {
		if k := Key(v.Name); k != "" {
			keys[k] = true
		}
	}
	info.Values = len(keys)
	if newerThanStore(path, folder) {
		tree, err := ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("the run's taxonomy: %w (delete it to build it again)", err)
		}
		info.Reused = true
		return tree, info, nil
	}
	limit := o.Max
	if limit <= 0 {
		limit = MaxRunValues
	}
	switch {
	case info.Values < MinRunValues:
		info.Note = fmt.Sprintf("%d distinct values of %s: a taxonomy needs at least %d; the values are listed as they are.", info.Values, field, MinRunValues)
		return nil, info, nil
	case info.Values > limit:
		info.Note = fmt.Sprintf("%d distinct values of %s: more than the report clusters itself (%d). Build the run's taxonomy with `valuescope taxonomy build %s --field %s --out %s` and the report will show it.",
			info.Values, field, limit, dir, field, path)
		return nil, info, nil
	}
	e := o.Embedder
	if e == nil {
		e = Offline{}
	}
	start := time.Now()
	tree, _, err := Build(ctx, vals, Options{Seed: DefaultSeed, Embedder: e, Field: field, NamePass: o.NamePass})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		info.Note = fmt.Sprintf("The run's taxonomy of %s could not be built (%v); the values are listed as they are.", field, err)
		return nil, info, nil
	}
	info.Seconds = time.Since(start).Seconds()
	if err := tree.WriteFile(path); err != nil {
		return nil, nil, err
	}
	info.Built = true
	return tree, info, nil
}

// newerThanStore reports whether the file at path was modified after the
// run's store and its write-ahead log.
func newerThanStore(path string, f runfolder.Folder) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, p := range f.StoreFiles() {
		si, err := os.Stat(p)
		if os.IsNotExist(err) || (err == nil && si.Size() == 0 && p != f.Store()) {
			// No log, or an empty one: a reader opening the store makes
			// an empty -wal, which holds no write.
			continue
		}
		if err != nil || !fi.ModTime().After(si.ModTime()) {
			return false
		}
	}
	return true
}

// Offline is the built-in offline embedder (package embed), its vectors loaded when
// first used (not at all when every value is placed by name).
type Offline struct{}

func (Offline) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e, err := embed.NewOffline()
	if err != nil {
		return nil, err
	}
	return e.Embed(ctx, texts)
}
