package hub_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/internal/fakehub"
)

// BenchmarkPull measures what a pull costs over a plain download of the
// same bytes (4.5 MB of Chatbot Arena JSONL) from the same loopback server
// (get: one GET written to a file; get-fsync: and synced, the baselines):
// pull lists the commit, follows the redirect to the CDN, downloads into
// .incomplete while hashing, syncs, checks, renames and links; cached is a
// second pull, which only asks for the revision and the listing. pull
// reports its time per op as a ratio to get-fsync's in the same run
// (x-get-fsync), when both run.
func BenchmarkPull(b *testing.B) {
	var baseline float64 // get-fsync's ns/op
	h := fakehub.New(b)
	var files []fakehub.File
	for _, f := range realFilesTB(b) {
		if f.Path == "data/train-00000-of-00001.jsonl" {
			files = append(files, f)
		}
	}
	commit := h.Commit("o/n", "main", files...)
	size := int64(len(files[0].Data))
	ctx := context.Background()
	ref, _ := hub.Parse("hf://o/n")
	for _, sync := range []bool{false, true} {
		name := "get"
		if sync {
			name = "get-fsync" // a download that is whole on disk once done, as a pull's blob is
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			u := h.URL() + "/datasets/o/n/resolve/" + commit + "/" + files[0].Path
			dir := b.TempDir()
			for b.Loop() {
				resp, err := http.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				f, _ := os.Create(filepath.Join(dir, "out"))
				if n, err := io.Copy(f, resp.Body); err != nil || n != size {
					b.Fatal(n, err)
				}
				resp.Body.Close()
				if sync {
					f.Sync()
				}
				f.Close()
			}
			if sync {
				baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			}
		})
	}
	b.Run("pull", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			c := &hub.Client{Endpoint: h.URL(), Cache: b.TempDir()}
			if _, err := c.Pull(ctx, ref, nil); err != nil {
				b.Fatal(err)
			}
		}
		if baseline > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-get-fsync")
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := &hub.Client{Endpoint: h.URL(), Cache: b.TempDir()}
		if _, err := c.Pull(ctx, ref, nil); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Pull(ctx, ref, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
