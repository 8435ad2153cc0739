package hub_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/internal/fakehub"
)

// The CDN on a subdomain of the Hub's host (as cdn-lfs.huggingface.co is of
// huggingface.co) gets no token: Go's client would forward it there.
func TestTokenNotSentToCDNSubdomain(t *testing.T) {
	h := fakehub.New(t)
	h.CDNHost = "cdn.hub.test"
	h.Commit("o/n", "main", realFiles(t)...)
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && (host == "hub.test" || host == "cdn.hub.test") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	_, port, _ := net.SplitHostPort(h.Server.Listener.Addr().String())
	c := &hub.Client{Endpoint: "http://hub.test:" + port, Cache: t.TempDir(), Token: "hf_secret", HTTP: &http.Client{Transport: tr}}
	pull(t, c, "hf://o/n/data/*.jsonl")
	cdn := 0
	for _, r := range h.Requests() {
		switch {
		case strings.HasPrefix(r.Path, "/cdn/"):
			cdn++
			if r.Auth != "" {
				t.Errorf("the token was sent to the CDN at cdn.hub.test (%s: %q)", r.Path, r.Auth)
			}
		case r.Auth != "Bearer hf_secret":
			t.Errorf("%s asked of the Hub without the token", r.Path)
		}
	}
	if cdn == 0 {
		t.Fatal("no request reached the CDN: the test proves nothing")
	}
}

// A download that stalls (no byte for the idle timeout) is ended and
// resumed from where it stopped; with no retries left it fails, keeping
// the bytes for the next call.
func TestStalledDownloadResumes(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	const path = "extra/small.json"
	h.StallAfter(path, 30)
	c := newClient(t, h)
	c.IdleTimeout = 100 * time.Millisecond
	c.Retries = -1
	ref, _ := hub.Parse("hf://o/n/" + path)
	done := make(chan error, 1)
	go func() { _, err := c.Pull(context.Background(), ref, nil); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no byte came for 100ms") {
			t.Fatalf("stalled pull: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled download hung")
	}
	parts, _ := filepath.Glob(filepath.Join(c.Cache, "datasets--o--n", "blobs", "*.incomplete"))
	if len(parts) != 1 {
		t.Fatalf("incomplete files %v", parts)
	}
	if st, _ := os.Stat(parts[0]); st.Size() != 30 {
		t.Errorf(".incomplete holds %d bytes, want the 30 sent", st.Size())
	}
	c.Retries = 5 // each attempt stalls after 30 more bytes
	h.Requests()
	s, err := c.Pull(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[4].Data) {
		t.Errorf("resumed file differs from the Hub's")
	}
	var ranges []string
	for _, r := range h.Requests() {
		if r.Served {
			ranges = append(ranges, r.Range)
		}
	}
	if want := []string{"bytes=30-", "bytes=60-"}; strings.Join(ranges, " ") != strings.Join(want, " ") {
		t.Errorf("downloads asked for %q, want %q", ranges, want)
	}
}

// A body that ends cleanly but short (chunked, no length) is resumed, not
// refused and thrown away.
func TestShortBodyResumes(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	short := true
	c := proxy(t, h, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/resolve/") || !short {
			return false
		}
		short = false
		w.Header().Set("X-Repo-Commit", "")
		w.WriteHeader(http.StatusOK)
		w.Write(files[4].Data[:25])
		w.(http.Flusher).Flush() // chunked: the body ends where the handler does
		return true
	})
	c.Retries, c.Backoff = 2, time.Millisecond
	s := pull(t, c, "hf://o/n/extra/small.json")
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[4].Data) || s.FetchedBytes != int64(len(files[4].Data)) {
		t.Errorf("after a short body: %d bytes fetched, equal %v", s.FetchedBytes, bytes.Equal(got, files[4].Data))
	}
	if !strings.Contains(strings.Join(rangesOf(h.Requests()), " "), "bytes=25-") {
		t.Error("the short body was not resumed with Range: bytes=25-")
	}
}

func rangesOf(rs []fakehub.Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Range)
	}
	return out
}

// HF_HUB_DOWNLOAD_TIMEOUT sets the idle timeout; a malformed one is an
// error naming it, not a silent default. The legacy names and ~ are read.
func TestFromEnvTimeoutAndLegacy(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for k, v := range map[string]string{"HF_ENDPOINT": "", "HF_HOME": "~/hfhome", "HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "~/legacy",
		"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "hf_legacy", "HF_TOKEN_PATH": "", "HF_HUB_OFFLINE": "", "HF_HUB_DOWNLOAD_TIMEOUT": "2.5"} {
		t.Setenv(k, v)
	}
	c := hub.FromEnv()
	if c.IdleTimeout != 2500*time.Millisecond || c.Cache != filepath.Join(home, "legacy") || c.Token != "hf_legacy" {
		t.Errorf("FromEnv: timeout %v, cache %q, token %q", c.IdleTimeout, c.Cache, c.Token)
	}
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	if c := hub.FromEnv(); c.Cache != filepath.Join(home, "hfhome", "hub") {
		t.Errorf("HF_HOME=~/hfhome: cache %q", c.Cache)
	}
	for _, bad := range []string{"ten", "-1", "0", "NaN"} {
		t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", bad)
		ref, _ := hub.Parse("hf://o/n")
		if _, err := hub.FromEnv().List(context.Background(), ref, nil); err == nil || !strings.Contains(err.Error(), "HF_HUB_DOWNLOAD_TIMEOUT=") {
			t.Errorf("HF_HUB_DOWNLOAD_TIMEOUT=%s: %v", bad, err)
		}
	}
}

// The Hub busy (429) or failing (5xx) is asked again, after a wait that
// doubles; another refusal (404) is not; with the retries used up the
// error is the Hub's.
func TestRetryBusyHub(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	var failing []int // statuses still to answer, in order
	var mu sync.Mutex
	var waits []time.Time
	c := proxy(t, h, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, time.Now())
		if len(failing) == 0 {
			return false
		}
		status := failing[0]
		failing = failing[1:]
		w.Header().Set("X-Error-Message", "try later")
		w.WriteHeader(status)
		return true
	})
	c.Backoff = 20 * time.Millisecond
	c.Retries = 3
	set := func(s ...int) { mu.Lock(); failing, waits = s, nil; mu.Unlock() }
	set(503, 429, 502) // the revision asked three times, then the rest goes through
	s := pull(t, c, "hf://o/n/extra/small.json")
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[4].Data) {
		t.Error("file differs after retries")
	}
	mu.Lock()
	if len(waits) < 4 || waits[1].Sub(waits[0]) < 20*time.Millisecond || waits[2].Sub(waits[1]) < 40*time.Millisecond || waits[3].Sub(waits[2]) < 80*time.Millisecond {
		t.Errorf("retries not backed off (20, 40, 80 ms): %v", waits)
	}
	mu.Unlock()
	ref, _ := hub.Parse("hf://o/n/data/*.jsonl")
	set(500, 500, 500, 500)
	if _, err := c.Pull(context.Background(), ref, nil); err == nil || !strings.Contains(err.Error(), "500 Internal Server Error") {
		t.Errorf("4 failures, 3 retries: %v", err)
	}
	set(404)
	if _, err := c.Pull(context.Background(), ref, nil); err == nil {
		t.Error("a 404 was asked again until it went through")
	}
	mu.Lock()
	if len(waits) != 1 {
		t.Errorf("a 404 was asked %d times", len(waits))
	}
	mu.Unlock()
}

// A listing that stops coming is ended too (and asked again).
func TestStalledListing(t *testing.T) {
	h := fakehub.New(t)
	h.Commit("o/n", "main", realFiles(t)...)
	var mu sync.Mutex
	stalls := 1
	c := proxy(t, h, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		stall := strings.Contains(r.URL.Path, "/tree/") && stalls > 0
		if stall {
			stalls--
		}
		mu.Unlock()
		if !stall {
			return false
		}
		w.Write([]byte(`[{"type":"file",`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	})
	c.IdleTimeout, c.Backoff = 100*time.Millisecond, time.Millisecond
	ref, _ := hub.Parse("hf://o/n/extra/small.json")
	done := make(chan error, 1)
	go func() { _, err := c.List(context.Background(), ref, nil); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no byte came for 100ms") {
			t.Fatalf("stalled listing: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled listing hung")
	}
	mu.Lock()
	stalls = 1
	mu.Unlock()
	c.Retries = 1
	if _, err := c.List(context.Background(), ref, nil); err != nil {
		t.Errorf("stalled once, one retry: %v", err)
	}
}
