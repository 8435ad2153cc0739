package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
)

// Bounds of the run's own taxonomy, in distinct values of its field (by
// normalised name).
const (
	// MinBuildValues: with fewer, the report lists the values flat (the
	// paper's proportions give a tree of one or two clusters).
	MinBuildValues = 20
	// MaxBuildValues: with more, the report does not cluster them (3,307
	// values take about 5 s); `valuescope taxonomy build` does, and the
	// report then reads its tree (see TreeFile).
	MaxBuildValues = 20000
	// BuildSeed is the seed of the clustering, as taxonomy build's default.
	BuildSeed = 1
)

// TreeDir is the folder of a run folder that holds its own taxonomies.
const TreeDir = "taxonomy"

// TreeFile is where a run's own taxonomy of field is kept:
// RUN/taxonomy/FIELD.tree.csv, in the layout of the paper's values_tree.csv.
func TreeFile(dir, field string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, field)
	return filepath.Join(dir, TreeDir, safe+".tree.csv")
}

// ownTree returns the run's own taxonomy of field f, with what it is, or a
// nil tree and why not:
//
//   - TreeFile(dir, f) is reused when it was modified after the run's store
//     (store.sqlite and its write-ahead log): nothing was added since it was
//     written. A tree written there by `valuescope taxonomy build` is reused
//     the same way;
//   - otherwise the field's values (taxonomy.ReadRun) are clustered with
//     taxonomy.Build's defaults (levels in the paper's proportions, k-means,
//     the built-in namer, seed BuildSeed; o.Embedder or the offline
//     embedder) — the tree `valuescope taxonomy build RUN --field F` makes —
//     and written to TreeFile, when the field has MinBuildValues to
//     o.BuildMax distinct values.
func ownTree(ctx context.Context, dir string, r *analysis.Run, f *analysis.Field, o Options) (*taxonomy.Tree, *TreeInfo, error) {
	path := TreeFile(dir, f.Name)
	info := &TreeInfo{Source: TreeFlat, Field: f.Name}
	keys := map[string]bool{}
	for i := range r.Conversations {
		if f.Done[i] {
			for _, v := range f.Values(i) {
				if k := taxonomy.Key(v); k != "" {
					keys[k] = true
				}
			}
		}
	}
	info.Values = len(keys)
	if fresh(path, dir) {
		tree, err := taxonomy.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("the run's taxonomy: %w (delete it to build it again)", err)
		}
		info.Source, info.File = TreeReused, path
		return tree, info, nil
	}
	limit := o.BuildMax
	if limit <= 0 {
		limit = MaxBuildValues
	}
	switch {
	case info.Values < MinBuildValues:
		info.Note = fmt.Sprintf("%d distinct values of %s: a taxonomy needs at least %d; the values are listed as they are.", info.Values, f.Name, MinBuildValues)
		return nil, info, nil
	case info.Values > limit:
		info.Note = fmt.Sprintf("%d distinct values of %s: more than the report clusters itself (%d). Build the run's taxonomy with `valuescope taxonomy build %s --field %s --out %s` and the report will show it.",
			info.Values, f.Name, limit, dir, f.Name, path)
		return nil, info, nil
	}
	vals, err := taxonomy.ReadRun(ctx, dir, f.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("the run's taxonomy: %w", err)
	}
	e := o.Embedder
	if e == nil {
		e = offline{}
	}
	start := time.Now()
	set, err := settings(dir, o.Settings)
	if err != nil {
		return nil, nil, err
	}
	tree, _, err := taxonomy.Build(ctx, vals, taxonomy.Options{Seed: BuildSeed, Embedder: e, Field: f.Name, MinNameCount: taxonomy.NameFloor(set.Floor())})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		// The report stands without it (the values' embeddings may not
		// separate into the levels asked for).
		info.Note = fmt.Sprintf("The run's taxonomy of %s could not be built (%v); the values are listed as they are.", f.Name, err)
		return nil, info, nil
	}
	info.Seconds = time.Since(start).Seconds()
	// Tree.WriteFile writes whole or not at all: a half-written tree is
	// never reused.
	if err := tree.WriteFile(path); err != nil {
		return nil, nil, err
	}
	info.Source, info.File = TreeBuilt, path
	return tree, info, nil
}

// fresh reports whether the file at path was modified after the run's
// store: store.sqlite and, when there is one, its write-ahead log.
func fresh(path, dir string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, name := range []string{"store.sqlite", "store.sqlite-wal"} {
		si, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil || !fi.ModTime().After(si.ModTime()) {
			return false
		}
	}
	return true
}

// offline is the built-in offline embedder, its vectors loaded when first
// used (not at all when every value is placed by name).
type offline struct{}

func (offline) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e, err := embed.NewOffline()
	if err != nil {
		return nil, err
	}
	return e.Embed(ctx, texts)
}
