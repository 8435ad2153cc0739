// Package headless starts headless Chromium for the tests that click
// through valuescope's pages (the report, the explorer), through chromedp.
// One rule for every such test: without Chromium the test is skipped, and
// under CI=true, where .ci/run installs it, it fails.
package headless

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Tab is a chromedp context of a fresh browser tab, with a deadline of
// timeout, closed with the test; or a skipped (CI: failed) test when
// Chromium is not installed.
func Tab(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	bin := ""
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if q, err := exec.LookPath(p); err == nil {
			bin = q
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed")
	}
	// Not t.TempDir: Chromium's helper processes may still write the
	// profile after the browser exits, and a failed removal would fail the
	// test; it is removed on a best-effort basis.
	profile, err := os.MkdirTemp("", "valuescope-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1600))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	// Start the browser before the deadline is set: a deadline on the
	// first call's context would be the browser's own (chromedp.Run).
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}
