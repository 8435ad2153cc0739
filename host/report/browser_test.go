package report_test

// The report in headless Chromium (internal/headless, chromedp): what a
// page load requests and logs, and clicks.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/valuescope/valuescope/internal/headless"
)

// cdp is a browser tab and what its pages requested and logged.
type cdp struct {
	ctx context.Context
	mu  sync.Mutex
	pl  *pageLoad // the load being recorded
}

// browser starts headless Chromium with one tab (skipped without
// Chromium; failed under CI=true).
func browser(t testing.TB) *cdp {
	t.Helper()
	c := &cdp{ctx: headless.Tab(t, 3*time.Minute)}
	err := chromedp.Listen(c.ctx, func(ev any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		pl := c.pl
		if pl == nil {
			return
		}
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			pl.requests = append(pl.requests, e.Request.URL)
		case *network.EventLoadingFailed:
			pl.failed = append(pl.failed, fmt.Sprintf("%s: %s", e.RequestID, e.ErrorText))
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			pl.errors = append(pl.errors, fmt.Sprintf("%s at %s:%d:%d", msg, d.URL, d.LineNumber, d.ColumnNumber))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				pl.errors = append(pl.errors, fmt.Sprintf("console.%s(%s)", e.Type, strings.Join(args, ", ")))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				pl.errors = append(pl.errors, e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pageLoad is what loading a page showed.
type pageLoad struct {
	requests []string // URLs requested
	failed   []string // Network.loadingFailed
	errors   []string // console errors, exceptions, error log entries
	elapsed  time.Duration
	loadMS   float64 // performance timing: navigation start to load event end
}

// load opens path and waits for its load event, collecting requests,
// failures and errors until a short while after.
func (c *cdp) load(t testing.TB, path string) *pageLoad {
	t.Helper()
	pl := &pageLoad{}
	c.mu.Lock()
	c.pl = pl
	c.mu.Unlock()
	start := time.Now()
	if err := chromedp.Do(c.ctx, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	pl.elapsed = time.Since(start)
	time.Sleep(300 * time.Millisecond) // late errors and requests
	ms, err := chromedp.Run(c.ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].loadEventEnd`))
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pl = nil
	pl.loadMS = ms
	return pl
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (c *cdp) eval(expr string, out any) error {
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		return err
	}
	return json.Unmarshal(v, out)
}

func (c *cdp) screenshot(t testing.TB, paths ...string) {
	t.Helper()
	png, err := chromedp.Run(c.ctx, chromedp.CaptureScreenshot())
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// click clicks the element matched by selector with the mouse, near its
// left, after scrolling it into view (a summary's marker is at its left).
func (c *cdp) click(t testing.TB, selector string) {
	t.Helper()
	var pos struct{ X, Y float64 }
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return {x: r.left + Math.min(r.width/2, 40), y: r.top + r.height/2}; })()`, selector)
	if err := c.eval(js, &pos); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(c.ctx, chromedp.MouseClickXY(pos.X, pos.Y)); err != nil {
		t.Fatal(err)
	}
}

func checkLoad(t *testing.T, pl *pageLoad, path string) {
	t.Helper()
	for _, r := range pl.requests {
		if r != "file://"+path && !strings.HasPrefix(r, "data:") {
			t.Errorf("the page requested %s", r)
		}
	}
	if len(pl.requests) == 0 {
		t.Error("no request seen for the page itself")
	}
	for _, f := range pl.failed {
		t.Errorf("failed request: %s", f)
	}
	for _, e := range pl.errors {
		t.Errorf("console error: %s", e)
	}
}

// The browser check sees what it must refuse: a console error, an
// exception and a request to another origin.
func TestBrowserSeesErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.html")
	page := `<!doctype html><title>bad</title><img src="http://127.0.0.1:9/x.png"><script>console.error("from the page"); throw new Error("thrown")</script>`
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	pl := browser(t).load(t, path)
	joined := strings.Join(pl.errors, "\n")
	if !strings.Contains(joined, "from the page") || !strings.Contains(joined, "thrown") {
		t.Errorf("errors seen: %q", pl.errors)
	}
	if !slices.Contains(pl.requests, "http://127.0.0.1:9/x.png") {
		t.Errorf("requests seen: %q", pl.requests)
	}
}
