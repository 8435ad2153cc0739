package report

import (
	"context"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// ownTree returns the run's own taxonomy of field f (taxonomy.RunTree: the
// tree file of the run folder reused while newer than the store, else built
// and written there, when the field has taxonomy.MinRunValues to o.BuildMax
// distinct values), with what it is, or a nil tree and why not.
func ownTree(ctx context.Context, dir string, r *analysis.Run, f *analysis.Field, o Options) (*taxonomy.Tree, *TreeInfo, error) {
	set, err := settings(dir, o.Settings)
	if err != nil {
		return nil, nil, err
	}
	pass, err := taxonomy.NamePass(ctx, r, f.Name, set.Floor())
	if err != nil {
		return nil, nil, err
	}
	tree, rt, err := taxonomy.RunTree(ctx, dir, f.Name, taxonomy.RunTreeOptions{
		Embedder: o.Embedder, Max: o.BuildMax, NamePass: pass,
	})
	if err != nil {
		return nil, nil, err
	}
	info := &TreeInfo{Source: TreeFlat, Field: f.Name, Values: rt.Values, Note: rt.Note, Seconds: rt.Seconds}
	switch {
	case rt.Reused:
		info.Source, info.File = TreeReused, rt.File
	case rt.Built:
		info.Source, info.File = TreeBuilt, rt.File
	}
	return tree, info, nil
}
