package taxonomy

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestReadValuesCSV(t *testing.T) {
	vals, bad, err := ReadValuesCSV("testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || bad[0].Line != 37 || bad[1].Line != 38 {
		t.Errorf("set aside %+v, want lines 37 (empty value) and 38 (no count)", bad)
	}
	items, dropped := Normalize(vals)
	if len(dropped) != 0 {
		t.Errorf("dropped %v", dropped)
	}
	byKey := map[string]Item{}
	for _, it := range items {
		byKey[it.Key] = it
	}
	if h := byKey["honesty"]; h.Count != 42 || len(h.Variants) != 1 || h.Name != "honesty" {
		t.Errorf("honesty: %+v", h)
	}
	if w := byKey["wellbeing"]; w.Count != 14 || len(w.Variants) != 3 || w.Name != "well-being" {
		t.Errorf("well-being: %+v", w)
	}
	if _, _, err := readValues(strings.NewReader("name,n\nx,1\n")); err == nil || !strings.Contains(err.Error(), "value and count") {
		t.Errorf("bad header: %v", err)
	}
	v, _, err := readValues(strings.NewReader("value,pct_convos\nhelpfulness,23.359\n"))
	if err != nil || v[0].Count != 23.359 {
		t.Errorf("paper's frequencies: %v %v", v, err)
	}
}

func testEmbedder(t testing.TB) Embedder {
	e, err := embed.NewOffline()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func buildSmall(t *testing.T, o Options) (*Tree, Info) {
	t.Helper()
	vals, _, err := ReadValuesCSV("testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	o.Embedder = testEmbedder(t)
	if o.Levels == nil {
		o.Levels = []int{8, 3}
	}
	tree, info, err := Build(context.Background(), vals, o)
	if err != nil {
		t.Fatal(err)
	}
	return tree, info
}

func csvBytes(t *testing.T, tr *Tree) []byte {
	var b bytes.Buffer
	if err := tr.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBuildSmall(t *testing.T) {
	for _, m := range []string{KMeans, Ward} {
		t.Run(m, func(t *testing.T) {
			tree, info := buildSmall(t, Options{Method: m, Seed: 7})
			if got := tree.Sizes(); len(got) != 3 || got[0] != info.Variants || got[1] != 8 || got[2] != 3 {
				t.Fatalf("sizes %v (variants %d)", got, info.Variants)
			}
			// every leaf reaches the top
			for _, l := range tree.Level(0) {
				if p := tree.Path(l.ID); len(p) != 2 {
					t.Errorf("leaf %q: path %v", l.ID, p)
				}
			}
			// variants of one item share a cluster
			if tree.Ancestor("wellbeing", 1) != tree.Ancestor("well-being", 1) {
				t.Error("variants of well-being split")
			}
			// percentages: each level sums to 100
			for l := 0; l <= 2; l++ {
				s := 0.0
				for _, n := range tree.Level(l) {
					s += n.Pct
				}
				if s < 99.99 || s > 100.01 {
					t.Errorf("level %d: percentages sum to %.3f", l, s)
				}
			}
			// the same input and seed give the same tree, on one core or many
			old := runtime.GOMAXPROCS(1)
			again, _ := buildSmall(t, Options{Method: m, Seed: 7})
			runtime.GOMAXPROCS(old)
			if !bytes.Equal(csvBytes(t, tree), csvBytes(t, again)) {
				t.Error("two builds with one seed differ")
			}
			// semantically close values end up together at level 1 more often than not
			together := 0
			for _, p := range [][2]string{{"honesty", "truthfulness"}, {"child safety", "child protection"},
				{"efficiency", "productivity"}, {"data privacy", "privacy protection"}, {"creativity", "creative freedom"}} {
				if tree.Ancestor(p[0], 1) == tree.Ancestor(p[1], 1) {
					together++
				}
			}
			if together < 3 {
				t.Errorf("only %d of 5 close pairs share a level-1 cluster", together)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	e := testEmbedder(t)
	vals := []Value{{"a b", 1}, {"c d", 1}, {"honesty", 1}}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Embedder: e, Levels: []int{5}}, "level 1: 5 clusters for 3 distinct values"},
		{Options{Embedder: e, Levels: []int{2, 2}}, "fewer clusters"},
		{Options{Embedder: e, Method: "dbscan"}, `method "dbscan"`},
		{Options{}, "no embedder"},
	} {
		_, _, err := Build(context.Background(), vals, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o.Levels, err, c.want)
		}
	}
	if _, _, err := Build(context.Background(), []Value{{"x", 1}}, Options{Embedder: e}); err == nil {
		t.Error("one value: want an error")
	}
}

func TestDefaultLevels(t *testing.T) {
	if got := DefaultLevels(3307); got[0] != 266 || got[len(got)-1] != 5 || len(got) != 3 {
		t.Errorf("DefaultLevels(3307) = %v", got)
	}
	if got := GeometricLevels(8000, 5, 4); len(got) != 4 || got[1] != 684 || got[2] != 58 {
		t.Errorf("GeometricLevels(8000, 5, 4) = %v", got)
	}
	for n, want := range map[int][]int{10: {2}, 90: {7, 3}, 500: {40, 5}, 3307: {266, 36, 5}, 100000: {8044, 201, 5}} {
		if got := DefaultLevels(n); !slices.Equal(got, want) {
			t.Errorf("DefaultLevels(%d) = %v, want %v", n, got, want)
		}
	}
}

// The paper's tree reads and writes back byte for byte.
func TestPaperTreeRoundTrip(t *testing.T) {
	_, path := paperFiles(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := ReadCSV(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	if got := tree.Sizes(); len(got) != 4 || got[0] != 3307 || got[1] != 266 || got[2] != 26 || got[3] != 5 {
		t.Fatalf("sizes %v", got)
	}
	if out := csvBytes(t, tree); !bytes.Equal(out, orig) {
		i := 0
		for i < len(out) && i < len(orig) && out[i] == orig[i] {
			i++
		}
		t.Fatalf("written CSV differs from the paper's at byte %d: %q vs %q", i, out[max(0, i-40):min(len(out), i+40)], orig[max(0, i-40):min(len(orig), i+40)])
	}
	var js bytes.Buffer
	if err := tree.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(csvBytes(t, back), orig) {
		t.Error("JSON round trip changed the tree")
	}
	c, err := CompareTrees(tree, back)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Levels {
		if math.Abs(l.AMI-1) > 1e-9 || math.Abs(l.ARI-1) > 1e-9 || math.Abs(l.NMI-1) > 1e-9 {
			t.Errorf("a tree against itself, level %d: %+v", l.Level, l.Agreement)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	head := strings.Join(csvHeader, ",") + "\n"
	for src, want := range map[string]string{
		"":                               "empty file",
		"a,b\n":                          "wrong number of fields",
		"x,y,z,q,r,s\n":                  "line 1: header",
		head:                             "no rows",
		head + "v,,v,zero,p,1\n":         `line 2: level "zero"`,
		head + "v,,v,0,p,1\n":            `parent "p" is not in the tree`,
		head + "v,,v,0,,1\nw,,w,1,,1\n":  "has no parent",
		head + "v,,v,0,c,x\nc,,c,1,,1\n": "pct_total_occurrences",
		head + "v,,v,0,c,1\nv,,v,0,c,1\nc,,c,1,,1\n": "appears twice",
	} {
		_, err := ReadCSV(strings.NewReader(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestAssign(t *testing.T) {
	_, path := paperFiles(t)
	ref, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals := []Value{
		{"Honesty", 5},                   // exact (after normalisation)
		{"helpfulnesses", 3},             // plural of a leaf
		{"truthfulness in reporting", 2}, // new, close
		{"zqxjv", 1},                     // unplaceable
	}
	as, sum, err := Assign(context.Background(), vals, ref, testEmbedder(t), DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	if !as[0].Exact || as[0].Leaf != "honesty" || len(as[0].Clusters) != 3 {
		t.Errorf("Honesty: %+v", as[0])
	}
	if !as[1].Exact || as[1].Leaf != "helpfulness" {
		t.Errorf("helpfulnesses: %+v", as[1])
	}
	if !as[2].Assigned || as[2].Exact || as[2].Similarity < DefaultThreshold {
		t.Errorf("truthfulness in reporting: %+v", as[2])
	} else {
		t.Logf("truthfulness in reporting -> %q (%.3f), %v", as[2].Leaf, as[2].Similarity, as[2].Clusters)
	}
	if as[3].Assigned || as[3].Leaf != "" {
		t.Errorf("zqxjv: %+v", as[3])
	}
	if sum.Assigned != 3 || sum.Exact != 2 || sum.Unassigned != 1 {
		t.Errorf("summary %+v", sum)
	}
	var b bytes.Buffer
	if err := WriteAssignmentsCSV(&b, ref, as); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "value,count,assigned,exact,leaf,similarity,l1_cluster_id,l1_name") {
		t.Errorf("assignments CSV:\n%s", b.String())
	}
}

func TestReadRun(t *testing.T) {
	dir := t.TempDir()
	c, err := runfolder.Claim(dir, "test") // a run folder as valuescope makes one
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	st, err := store.Open(c.Store())
	if err != nil {
		t.Fatal(err)
	}
	var batch []store.Result
	for i, vs := range [][]string{{"honesty", "helpfulness"}, {"honesty"}, {"clarity"}} {
		r := store.Result{Conv: store.Conversation{Seq: int64(i), ID: string(rune('a' + i)), Source: "t", ContentSHA: "x", MetaJSON: "{}"}, Stage: "values"}
		for _, v := range vs {
			r.Items = append(r.Items, store.Annotation{Field: "ai_values", Value: v})
		}
		r.Items = append(r.Items, store.Annotation{Field: "human_values", Value: "privacy"})
		batch = append(batch, r)
	}
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	st.Close()
	vals, err := ReadRun(context.Background(), dir, "ai_values")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, v := range vals {
		got[v.Name] = v.Count
	}
	if len(got) != 3 || got["honesty"] != 2 || got["clarity"] != 1 {
		t.Errorf("values %v", got)
	}
	if _, err := ReadRun(context.Background(), dir, "tasks"); err == nil || !strings.Contains(err.Error(), "no tasks annotations") {
		t.Errorf("missing field: %v", err)
	}
	if _, err := ReadRun(context.Background(), t.TempDir(), "ai_values"); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("not a run: %v", err)
	}
}

func TestWordsNamer(t *testing.T) {
	tree, _ := buildSmall(t, Options{Namer: WordsNamer{}})
	for _, n := range tree.Level(1) {
		if n.Name == "" || n.Description == "" {
			t.Errorf("cluster %s unnamed", n.ID)
		}
	}
}

type fakeCaller struct{ calls []protocol.ModelCall }

func (f *fakeCaller) Call(_ context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	f.calls = append(f.calls, calls...)
	out := make([]protocol.ModelResponse, len(calls))
	for i, c := range calls {
		out[i].ID = c.ID
		if c.Kind == "embed" {
			for _, m := range c.Messages {
				out[i].Embeddings = append(out[i].Embeddings, protocol.Embedding{Vector: []float32{float32(len(m.Content)), 1}})
			}
		}
	}
	return out, nil
}

func TestModelAdapters(t *testing.T) {
	f := &fakeCaller{}
	e := ModelEmbedder{Caller: f, Model: "emb", Batch: 2}
	v, err := e.Embed(context.Background(), []string{"a", "bb", "ccc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 3 || v[2][0] != 3 || len(f.calls) != 2 || f.calls[0].Kind != "embed" || f.calls[0].Model != "emb" {
		t.Errorf("vectors %v, calls %+v", v, f.calls)
	}
}

// Values the embedder cannot tell apart fail at once, with what to do,
// rather than after a long k-means.
func TestBuildTooFewDistinct(t *testing.T) {
	var vals []Value
	for _, n := range []string{"诚实", "善良", "正义", "勇气", "智慧", "节制", "尊重", "责任"} {
		vals = append(vals, Value{Name: n, Count: 1})
	}
	_, _, err := Build(context.Background(), vals, Options{Embedder: testEmbedder(t), Levels: []int{4, 2}})
	var tf *TooFewDistinctError
	if !errors.As(err, &tf) || tf.Items != 8 || tf.Distinct != 1 || tf.Clusters != 4 {
		t.Fatalf("err = %v, want a TooFewDistinctError for 8 values, 1 distinct, 4 clusters", err)
	}
}

// Of the leaves one Key joins, a value goes to the most frequent (not the
// first by name): a rare spelling must neither name nor gather the others.
func TestAssignMostFrequentSpelling(t *testing.T) {
	tree, err := NewTree([]Node{
		{ID: "c", Name: "Honesty", Level: 1},
		{ID: "honesties", Name: "honesties", Level: 0, Parent: "c", Pct: 1},
		{ID: "honesty", Name: "honesty", Level: 0, Parent: "c", Pct: 90},
		{ID: "Honesty!", Name: "Honesty!", Level: 0, Parent: "c", Pct: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	as, _, err := Assign(context.Background(), []Value{{"honesties", 1}, {"HONESTY", 1}}, tree, nil, DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.Leaf != "honesty" {
			t.Errorf("%s went to %q, want the most frequent spelling, honesty", a.Value, a.Leaf)
		}
	}
}

// A tree file appears whole or not at all, in folders made as needed.
func TestWriteFileAtomic(t *testing.T) {
	tree, _ := buildSmall(t, Options{Seed: 1})
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "tree.csv")
	if err := tree.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil || len(back.Nodes) != len(tree.Nodes) {
		t.Fatalf("read back: %v (%d nodes of %d)", err, len(back.Nodes), len(tree.Nodes))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	// a failed write leaves the old file and no temporary behind
	if err := os.Chmod(filepath.Dir(path), 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(filepath.Dir(path), 0o755)
	if os.Geteuid() != 0 { // root writes anyway
		if err := tree.WriteFile(path); err == nil {
			t.Error("writing into a read-only folder succeeded")
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only tree.csv", len(entries))
	}
}

// recordingNamer remembers what it was shown.
type recordingNamer struct {
	RepresentativeNamer
	shown []ClusterToName
}

func (r *recordingNamer) Contrast() int { return 3 }

func (r *recordingNamer) Name(ctx context.Context, cs []ClusterToName) ([]Naming, error) {
	r.shown = append(r.shown, cs...)
	return r.RepresentativeNamer.Name(ctx, cs)
}

// Values NamePass refuses (a run's privacy floor) name no cluster and are
// not shown to the namer, as members or as contrast.
func TestNamePass(t *testing.T) {
	vals, _, err := ReadValuesCSV("testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{} // by Key: spellings of a value are one
	for _, v := range vals {
		counts[Key(v.Name)] += v.Count
	}
	const floor = 5
	rec := &recordingNamer{}
	pass := func(k string) bool { return counts[k] >= floor }
	tree, _ := buildSmall(t, Options{Seed: 1, NamePass: pass, Namer: rec})
	rareSeen := 0
	for _, c := range counts {
		if c < floor {
			rareSeen++
		}
	}
	if rareSeen == 0 {
		t.Fatal("test data has no value under the floor")
	}
	for _, c := range rec.shown {
		if c.Level != 1 {
			continue
		}
		for _, m := range c.Members {
			if m.Count < floor {
				t.Errorf("namer shown %q (count %g)", m.Name, m.Count)
			}
		}
		for _, n := range c.Contrast {
			if cnt, ok := counts[Key(n)]; ok && cnt < floor {
				t.Errorf("namer shown %q as contrast (count %g)", n, cnt)
			}
		}
	}
	rare := 0
	for l := 1; l <= tree.Depth(); l++ {
		for _, n := range tree.Level(l) {
			if cnt, ok := counts[Key(n.Name)]; ok && cnt < floor {
				t.Errorf("level %d cluster named after %q (count %g)", l, n.Name, cnt)
			}
			if n.Name == rareName {
				rare++
			}
		}
	}
	t.Logf("%d values under the floor; %d clusters of them only", rareSeen, rare)
}
