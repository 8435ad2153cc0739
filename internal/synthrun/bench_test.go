package synthrun

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/testplugins"
)

// command is valuescope built once for the benchmarks, from this tree.
var command struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

func valuescope(tb testing.TB) string {
	tb.Helper()
	command.once.Do(func() {
		dir, err := os.MkdirTemp("", "valuescope-synthrun-bin-")
		if err != nil {
			command.err = err
			return
		}
		command.bin = filepath.Join(dir, "valuescope")
		cmd := exec.Command("go", "build", "-o", command.bin, "./cmd/valuescope")
		cmd.Dir = testplugins.ModuleRoot(tb)
		command.out, command.err = cmd.CombinedOutput()
	})
	if command.err != nil {
		tb.Fatalf("building valuescope: %v\n%s", command.err, command.out)
	}
	return command.bin
}

// usage is what one child process used.
type usage struct {
	MaxRSSKiB int64   `json:"max_rss_kib"`
	Seconds   float64 `json:"seconds"`
}

// measure runs the command and returns its peak resident set and time.
func measure(tb testing.TB, bin string, args ...string) usage {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("valuescope %v: %v\n%s", args, err, tail(out))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return usage{MaxRSSKiB: ru.Maxrss, Seconds: time.Since(start).Seconds()}
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// runStats is what building a synthetic run measured, kept beside it.
type runStats struct {
	Run        usage `json:"run"`
	StoreBytes int64 `json:"store_bytes"`
}

// cachedRun is the run folder of p, made by `valuescope run` the first time
// (under the temp folder, named by p's key and the plugin's hash) and
// reused after; with what its run measured.
func cachedRun(tb testing.TB, p Params) (string, runStats) {
	tb.Helper()
	plugin := testplugins.WasmPackage(tb, "internal/synthrun/testdata/listvalues", "")
	dir := filepath.Join(os.TempDir(), "valuescope-synthrun", p.Key()+"-"+strings.TrimSuffix(filepath.Base(plugin), ".wasm"))
	statsPath := filepath.Join(dir, "stats.json")
	var st runStats
	if b, err := os.ReadFile(statsPath); err == nil && json.Unmarshal(b, &st) == nil {
		return filepath.Join(dir, "run"), st
	}
	os.RemoveAll(dir)
	cfg, err := WriteInputs(dir, p, plugin, 2)
	if err != nil {
		tb.Fatal(err)
	}
	st.Run = measure(tb, valuescope(tb), "run", cfg)
	fi, err := os.Stat(filepath.Join(dir, "run", "store.sqlite"))
	if err != nil {
		tb.Fatal(err)
	}
	st.StoreBytes = fi.Size()
	if err := checkStore(filepath.Join(dir, "run", "store.sqlite"), p); err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(statsPath, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, "run"), st
}

// checkStore makes sure the run stored every conversation and its values,
// with no bad record and no stage error.
func checkStore(path string, p Params) error {
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.Count(context.Background())
	if err != nil {
		return err
	}
	if c.Conversations != int64(p.Conversations) || c.BadRecords != 0 || c.Total() != 0 || c.Annotations < c.Conversations {
		return fmt.Errorf("synthetic run %s: stored %d conversations (want %d), %d annotations, %d bad records, %d stage errors",
			path, c.Conversations, p.Conversations, c.Annotations, c.BadRecords, c.Total())
	}
	return nil
}

// sizes are the benchmark's small and large runs; VALUESCOPE_SYNTH_SIZES
// ("100000,1000000") changes them.
func sizes(tb testing.TB) (int, int) {
	small, large := 100_000, 1_000_000
	if s := os.Getenv("VALUESCOPE_SYNTH_SIZES"); s != "" {
		var err error
		if _, err = fmt.Sscanf(s, "%d,%d", &small, &large); err != nil {
			tb.Fatalf("VALUESCOPE_SYNTH_SIZES=%q: want SMALL,LARGE: %v", s, err)
		}
	}
	return small, large
}

// BenchmarkMemory runs each command over a synthetic run of the small and
// of the large size (100k and 1M conversations) and reports the ratios of
// their peak resident sets and times: memory that grows with distinct
// values x contexts, not conversations, gives an RSS ratio near 1 while the
// time ratio stays near the size ratio. The run's own measures (run RSS,
// store bytes per conversation, conversations/s) are reported too.
func BenchmarkMemory(b *testing.B) {
	small, large := sizes(b)
	ps, pl := Default(small), Default(large)
	dirS, stS := cachedRun(b, ps)
	dirL, stL := cachedRun(b, pl)
	bin := valuescope(b)
	// The run was measured when it was made (not again each time).
	b.Run("run", func(b *testing.B) {
		b.ReportMetric(float64(stL.Run.MaxRSSKiB)/float64(stS.Run.MaxRSSKiB), "rss-ratio")
		b.ReportMetric(float64(stS.Run.MaxRSSKiB)/1024, "rss-MiB-small")
		b.ReportMetric(float64(stL.Run.MaxRSSKiB)/1024, "rss-MiB-large")
		b.ReportMetric(stL.Run.Seconds/stS.Run.Seconds, "time-ratio")
		b.ReportMetric(float64(stL.StoreBytes)/float64(large), "store-B/conv")
		b.ReportMetric(float64(large)/stL.Run.Seconds, "conv/s-large")
	})
	for _, c := range []struct {
		name string
		args func(dir string) []string
	}{
		{"analyze", func(dir string) []string { return []string{"analyze", dir} }},
		{"report", func(dir string) []string { return []string{"report", dir} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var us, ul usage
			for range b.N {
				us = measure(b, bin, c.args(dirS)...)
				ul = measure(b, bin, c.args(dirL)...)
			}
			b.ReportMetric(float64(ul.MaxRSSKiB)/float64(us.MaxRSSKiB), "rss-ratio")
			b.ReportMetric(float64(us.MaxRSSKiB)/1024, "rss-MiB-small")
			b.ReportMetric(float64(ul.MaxRSSKiB)/1024, "rss-MiB-large")
			b.ReportMetric(ul.Seconds/us.Seconds, "time-ratio")
			b.ReportMetric(ul.Seconds, "s-large")
		})
	}
}
