package taxonomy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/taxonomy/embed"
)

const paperDir = "../../../shared/data/values-in-the-wild"

func paperFiles(t testing.TB) (freq, tree string) {
	freq = filepath.Join(paperDir, "values_frequencies.csv")
	tree = filepath.Join(paperDir, "values_tree.csv")
	if _, err := os.Stat(tree); err != nil {
		t.Skipf("the paper's tree is not at %s", tree)
	}
	return freq, tree
}

func buildPaper(t testing.TB, o Options) (*Tree, Info, Comparison) {
	freq, treePath := paperFiles(t)
	vals, bad, err := ReadValuesCSV(freq)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	if o.Embedder == nil {
		e, err := embed.NewOffline()
		if err != nil {
			t.Fatal(err)
		}
		o.Embedder = e
	}
	if o.Levels == nil {
		o.Levels = []int{266, 26, 5}
	}
	tree, info, err := Build(context.Background(), vals, o)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ReadFile(treePath)
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := CompareTrees(tree, ref)
	if err != nil {
		t.Fatal(err)
	}
	return tree, info, cmp
}

// TestPaperAgreement is the tracked figure: a 4-level tree built offline
// with the defaults (k-means, seed 1) from the paper's 3,307 values and their
// frequencies, compared with the paper's tree. The probe to beat (mean GloVe
// vectors, Ward) had AMI 0.31 / 0.19 / 0.09 at levels 1 / 2 / 3; the
// defaults give 0.336 / 0.258 / 0.143 (seeds 1-6: mean 0.333 / 0.245 / 0.133,
// lowest 0.323 / 0.233 / 0.122).
func TestPaperAgreement(t *testing.T) {
	_, info, cmp := buildPaper(t, Options{Seed: 1})
	floor := []float64{0.32, 0.23, 0.12}
	for i, l := range cmp.Levels {
		t.Logf("level %d: AMI %.3f  ARI %.3f  NMI %.3f  (%d vs %d clusters over %d values)", l.Level, l.AMI, l.ARI, l.NMI, l.ClustersA, l.ClustersB, l.N)
		if l.AMI < floor[i] {
			t.Errorf("level %d: AMI %.3f under %.2f", l.Level, l.AMI, floor[i])
		}
	}
	if info.Unembedded > 0 {
		t.Errorf("%d of the paper's values could not be embedded", info.Unembedded)
	}
}

func TestProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip("set PROBE=1 to compare settings against the paper's tree")
	}
	for _, o := range []Options{
		{Method: Ward}, {Method: Ward, Upper: KMeans, Seed: 1}, {Method: Ward, Upper: KMeans, Seed: 2}, {Method: Ward, Upper: Ward},
		{Method: KMeans, Seed: 1}, {Method: KMeans, Upper: Ward, Seed: 1}, {Method: Ward, Smooth: 5}, {Method: Ward, Smooth: 5, Upper: KMeans, Seed: 1},
	} {
		_, info, cmp := buildPaper(t, o)
		t.Logf("%s/%s smooth=%d weighted=%v seed=%d items=%d %.1fs", o.Method, o.Upper, o.Smooth, o.Weighted, o.Seed, info.Items, info.Seconds.Cluster)
		for _, l := range cmp.Levels {
			t.Logf("  level %d: AMI %.3f ARI %.3f NMI %.3f (%d vs %d)", l.Level, l.AMI, l.ARI, l.NMI, l.ClustersA, l.ClustersB)
		}
	}
}
