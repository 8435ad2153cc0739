package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// quickstart runs configs/quickstart.toml into a temporary run folder.
func quickstart(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load("../../configs/quickstart.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The quickstart report in a browser: as the run wrote it (the run's own
// taxonomy), then on the paper's tree when the shared data is there.
func TestQuickstartInBrowser(t *testing.T) {
	dir := quickstart(t)
	c := browser(t)
	checkPage(t, c, dir, "report.png")

	tree := os.Getenv("VALUESCOPE_SHARED_DATA")
	if tree == "" {
		tree = "../../../shared/data"
	}
	tree = filepath.Join(tree, "values-in-the-wild", "values_tree.csv")
	if _, err := os.Stat(tree); err != nil {
		t.Logf("no paper's tree: %v", err)
		return
	}
	if _, err := report.Generate(context.Background(), dir, report.Options{Tree: tree}); err != nil {
		t.Fatal(err)
	}
	checkPage(t, c, dir, "report-paper-tree.png")
}

// checkPage loads a run's report.html and checks its charts and tree.
func checkPage(t *testing.T, c *cdp, dir, png string) {
	t.Helper()
	path, _ := filepath.Abs(filepath.Join(dir, report.HTMLFile))
	checkJSON(t, dir)
	pl := c.load(t, path)
	checkLoad(t, pl, path)
	t.Logf("quickstart report: load event after %v (performance timing %.0f ms)", pl.elapsed, pl.loadMS)

	// Charts present and non-empty.
	var charts struct {
		Bars, Heat, Marks, Nodes int
	}
	if err := c.eval(`({
		bars: document.querySelectorAll("svg.bars").length,
		heat: document.querySelectorAll("svg.heat").length,
		marks: [...document.querySelectorAll("svg.chart")].filter(s => s.querySelectorAll("rect").length > 0 && s.getBoundingClientRect().height > 0).length,
		nodes: document.querySelectorAll(".tree details").length,
	})`, &charts); err != nil {
		t.Fatal(err)
	}
	if charts.Bars < 3 || charts.Heat < 1 || charts.Marks < charts.Bars+charts.Heat || charts.Nodes < 2 {
		t.Errorf("charts: %+v", charts)
	}
	// The tree expands on click.
	sel := ".tree > details > details > summary"
	var before, after bool
	c.eval(fmt.Sprintf(`document.querySelector(%q).parentElement.open`, sel), &before)
	c.click(t, sel)
	time.Sleep(100 * time.Millisecond)
	c.eval(fmt.Sprintf(`document.querySelector(%q).parentElement.open`, sel), &after)
	if before || !after {
		t.Errorf("tree node open before click %v, after %v", before, after)
	}
	var visible int
	c.eval(fmt.Sprintf(`[...document.querySelector(%q).parentElement.children].filter(e => e.tagName != "SUMMARY" && e.getBoundingClientRect().height > 0).length`, sel), &visible)
	if visible == 0 {
		t.Error("the opened tree node shows no children")
	}
	c.screenshot(t, filepath.Join(t.TempDir(), png), filepath.Join(os.TempDir(), png))
}

// checkJSON checks that the page embeds report.json's data.
func checkJSON(t *testing.T, dir string) {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	var d report.Data
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), strings.TrimSpace(string(js))) {
		t.Error("report.html does not embed report.json")
	}
	if len(d.Fields) == 0 || len(d.Heatmaps) == 0 || d.Manifest == nil || d.Tree == nil {
		t.Errorf("report data incomplete: %d fields, %d heatmaps", len(d.Fields), len(d.Heatmaps))
	}
	for _, f := range d.Fields {
		for _, v := range f.Values {
			if v.Count < d.Floor.MinConversations {
				t.Errorf("%s %q: count %d under the floor", f.Name, v.Value, v.Count)
			}
			if !strings.Contains(string(page), fmt.Sprintf("%d (", v.Count)) {
				t.Errorf("%s %q: count %d not on the page", f.Name, v.Value, v.Count)
			}
		}
	}
}

// Words of the synthetic values: two-word names (58 × 51), which embed apart
// (as real values do) so that the run's taxonomy can be built.
var (
	valueAdjectives = strings.Fields(`ethical emotional intellectual professional personal social cultural
		environmental financial legal medical technical creative scientific historical political
		religious spiritual educational academic practical theoretical physical mental economic
		artistic civic moral digital global local public private constructive critical honest
		respectful balanced careful patient generous loyal fair humble curious responsible safe
		healthy sustainable accurate efficient clear open transparent collaborative independent
		compassionate thoughtful`)
	valueNouns = strings.Fields(`integrity honesty responsibility autonomy wellbeing growth learning
		support care respect fairness justice safety privacy security freedom creativity expression
		knowledge wisdom accuracy clarity efficiency quality excellence harmony balance trust
		empathy kindness compassion dignity equality inclusion diversity community family friendship
		cooperation leadership resilience courage patience humility gratitude curiosity innovation
		sustainability stewardship transparency accountability`)
)

func valueName(n uint64) string {
	return valueAdjectives[n%uint64(len(valueAdjectives))] + " " + valueNouns[n/uint64(len(valueAdjectives))%uint64(len(valueNouns))]
}

// synthetic writes a run store of n conversations shaped like a real run:
// a response type, values from a long-tailed vocabulary, and metadata.
func synthetic(t testing.TB, dir string, n int) {
	t.Helper()
	c, err := runfolder.Claim(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	st, err := store.Open(c.Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SetStages([]store.Stage{{Name: "response-type", Fingerprint: "a"}, {Name: "values", Fingerprint: "b"}}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"strong support", "mild support", "neutral", "reframing", "mild resistance", "strong resistance", "no values"}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 2, 3000)
	var batch []store.Result
	for i := range n {
		conv := store.Conversation{Seq: int64(i + 1), ID: fmt.Sprintf("c%05d", i), Source: "synthetic.jsonl", ContentSHA: fmt.Sprint(i),
			MetaJSON: fmt.Sprintf(`{"model":"model-%d","language":"lang-%d","topic":"topic-%d"}`, rng.IntN(3), rng.IntN(8), rng.IntN(40))}
		batch = append(batch, store.Result{Conv: conv, Stage: "response-type", Items: []store.Annotation{{Field: "response_type", Value: types[rng.IntN(len(types))], IsLabel: true}}})
		var items []store.Annotation
		for range 1 + rng.IntN(6) {
			items = append(items, store.Annotation{Field: "ai_values", Value: valueName(zipf.Uint64())})
		}
		for range rng.IntN(3) {
			items = append(items, store.Annotation{Field: "human_values", Value: fmt.Sprintf("human value %d", zipf.Uint64())})
		}
		batch = append(batch, store.Result{Conv: conv, Stage: "values", Items: items})
		if len(batch) >= 1000 {
			if err := st.Write(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func TestLargeRunInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	synthetic(t, dir, 10_000)
	start := time.Now()
	path, err := report.Generate(context.Background(), dir, report.Options{Compare: nil})
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	path, _ = filepath.Abs(path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 conversations: report built in %v, %d bytes", built, fi.Size())
	if tx := readReport(t, dir).Taxonomy; tx.Source != report.TreeBuilt {
		t.Errorf("no taxonomy built: %+v", tx)
	} else {
		t.Logf("taxonomy: %s", tx.Summary())
	}
	if fi.Size() >= 5<<20 {
		t.Errorf("report.html is %d bytes, over 5 MB", fi.Size())
	}
	c := browser(t)
	pl := c.load(t, path)
	checkLoad(t, pl, path)
	t.Logf("10,000 conversations: load event after %v (performance timing %.0f ms)", pl.elapsed, pl.loadMS)
	// What a page costs to lay out, not a clock on a shared machine: the
	// elements it builds (the 10,000-conversation page has a few thousand).
	var elements int
	if err := c.eval(`document.getElementsByTagName("*").length`, &elements); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d elements", elements)
	if elements > 50_000 {
		t.Errorf("the report builds %d elements, over 50,000", elements)
	}
}
