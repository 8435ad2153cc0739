package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// paperComparison sets the run beside the paper when its values are placed
// on the paper's tree: a tree file with the paper's values_frequencies.csv
// beside it (as the paper's dataset has them). nil when the tree is
// another.
func paperComparison(ctx context.Context, dir string, o Options, floor analysis.Floor, userKeys []string) (*compare.PaperReport, error) {
	if o.Tree == "" || filepath.Base(o.Tree) != compare.PaperTreeFile {
		return nil, nil
	}
	paperDir := filepath.Dir(o.Tree)
	if _, err := os.Stat(filepath.Join(paperDir, compare.PaperFrequenciesFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	p, err := compare.ReadPaper(paperDir)
	if err != nil {
		return nil, err
	}
	e := o.Embedder
	if e == nil {
		e = taxonomy.Offline{}
	}
	threshold := taxonomy.DefaultThreshold
	if o.Threshold != nil {
		threshold = *o.Threshold
	}
	return compare.ComparePaper(ctx, dir, p, compare.PaperOptions{Field: o.TreeField, Embedder: e, Threshold: threshold, Top: o.Top, Floor: floor, UserKeys: userKeys})
}
