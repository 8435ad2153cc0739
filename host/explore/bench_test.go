package explore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/synthrun"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/internal/testruns"
)

// BenchmarkList times one list page over a synthetic run of 20,000
// conversations (Zipf values over 3,307 names, the real pipeline): the
// baseline is the first page of all conversations; against it, a frequent
// value (rank 1), a rare one (rank 3,000: the page scans the whole run), a
// heatmap-style cell (value and a metadata context), a text search, and a
// conversation page; and the rare value's page requested in parallel,
// against the same page one at a time.
func BenchmarkList(b *testing.B) {
	dir := b.TempDir()
	p := synthrun.Default(20_000)
	plugin := testplugins.WasmPackage(b, "internal/synthrun/testdata/listvalues", "")
	cfgPath, err := synthrun.WriteInputs(dir, p, plugin, 2)
	if err != nil {
		b.Fatal(err)
	}
	out := testruns.RunFile(b, cfgPath, run.Options{Out: filepath.Join(dir, "run")})
	e, err := explore.Open(context.Background(), []string{out}, explore.Options{Text: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for !e.Status().Done {
		time.Sleep(10 * time.Millisecond) // the text index
	}
	// Requests name the host served (httptest's example.com is refused).
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "localhost"
		e.ServeHTTP(w, req)
		return w
	}
	// Warm up (the page cache, the report's numbers).
	get("/r/synthetic/")
	var base, rareSerial float64 // ns per page of "all", of "rare"
	rare := url.QueryEscape(synthrun.ValueName(3000))
	freq := url.QueryEscape(synthrun.ValueName(1))
	for _, bc := range []struct{ name, path string }{
		{"all", "/r/synthetic/conversations"},
		{"frequent", "/r/synthetic/conversations?field=ai_values&value=" + freq},
		{"rare", "/r/synthetic/conversations?field=ai_values&value=" + rare},
		{"cell", "/r/synthetic/conversations?field=ai_values&value=" + freq + "&col=meta.task&cv=task+01"},
		{"search", "/r/synthetic/conversations?q=Question+19999"},
		{"conversation", "/r/synthetic/conversation?source=" + "conversations.jsonl" + "&id=c00012345"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				w := get(bc.path)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "c000") {
					b.Fatalf("%s: %d %.300s", bc.path, w.Code, w.Body.String())
				}
			}
			// Each page's time as a ratio to the baseline's, measured
			// first in the same run.
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.name == "all" {
				base = per
			} else if base > 0 {
				b.ReportMetric(per/base, "x-all")
			}
			if bc.name == "rare" {
				rareSerial = per
			}
		})
	}
	// The rare value's page from GOMAXPROCS requests at once (the pool of
	// reader connections): time per page as a ratio to one at a time,
	// measured just before (under 1: pages served side by side).
	b.Run("rare-parallel", func(b *testing.B) {
		path := "/r/synthetic/conversations?field=ai_values&value=" + rare
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if w := get(path); w.Code != http.StatusOK {
					b.Errorf("%s: %d", path, w.Code)
				}
			}
		})
		if rareSerial > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rareSerial, "x-serial")
		}
	})
}
