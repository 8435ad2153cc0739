package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/valuescope/valuescope/internal/headless"
	"github.com/valuescope/valuescope/internal/testruns"
)

// TestServeCommand starts `valuescope serve` as a process on a free
// loopback port, reads its pages (with --text, clicks through them in
// Chromium) and stops it with SIGINT.
func TestServeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs the offline stages")
	}
	bin := buildValuescope(t)
	dir := testruns.Offline(t, "hh-rlhf")
	for _, tc := range []struct {
		flags []string
		text  bool
	}{{nil, false}, {[]string{"--text"}, true}} {
		cmd := exec.Command(bin, append([]string{"serve", dir, "--addr", "127.0.0.1:0"}, tc.flags...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() {
				line <- sc.Text()
			}
			io.Copy(io.Discard, out)
		}()
		var base string
		select {
		case l := <-line:
			m := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("serve said %q", l)
			}
			base = m[1]
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatal("serve did not start")
		}
		resp, err := http.Get(base + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Text bool }
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Text != tc.text {
			t.Errorf("serve %v: text %v", tc.flags, st.Text)
		}
		resp, err = http.Get(base + "/r/run/conversations")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := map[bool]int{false: http.StatusForbidden, true: http.StatusOK}[tc.text]; resp.StatusCode != want {
			t.Errorf("serve %v: conversations %d, want %d", tc.flags, resp.StatusCode, want)
		}
		if tc.text && !strings.Contains(string(body), `class="conv"`) {
			t.Errorf("serve --text lists no conversation")
		}
		// DNS rebinding: another name for 127.0.0.1 is refused.
		req, _ := http.NewRequest("GET", base+"/api/status", nil)
		req.Host = "attacker.example" + base[strings.LastIndex(base, ":"):]
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("serve %v: Host %s answered %d, want 421", tc.flags, req.Host, resp.StatusCode)
		}
		if tc.text {
			clickThrough(t, base)
		}
		cmd.Process.Signal(syscall.SIGINT)
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
			t.Errorf("serve stopped by SIGINT: %v, want exit %d", err, exitInterrupted)
		}
		if stderr.Len() > 0 {
			t.Errorf("serve stopped by SIGINT said %q, want nothing", stderr.String())
		}
	}
}

// TestServeLoopbackDefault: serve listens on loopback unless told.
func TestServeLoopbackDefault(t *testing.T) {
	f := newServeCmd().Flags().Lookup("addr")
	if f == nil || !strings.HasPrefix(f.DefValue, "127.0.0.1:") {
		t.Fatalf("--addr defaults to %v", f)
	}
	if f := newServeCmd().Flags().Lookup("text"); f == nil || f.DefValue != "false" {
		t.Fatalf("--text defaults to %v: aggregate-only must be the default", f)
	}
}

// clickThrough opens the command's explorer in headless Chromium, clicks
// a value, then its first conversation, and finds an evidence quote
// highlighted there (host/explore's TestBrowser checks each highlight; this
// is the same path through the real command).
func clickThrough(t *testing.T, base string) {
	t.Helper()
	ctx := headless.Tab(t, 2*time.Minute)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/r/run/"),
		chromedp.WaitVisible(chromedp.CSS(`#field-ai_values a.value`)),
		chromedp.Click(chromedp.CSS(`#field-ai_values a.value`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.convs a.conv`)),
		chromedp.Click(chromedp.CSS(`ol.convs a.conv`)),
		chromedp.WaitVisible(chromedp.CSS(`.turn`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('mark.evidence').length`))
	if err != nil {
		t.Fatal(err)
	}
	if marks == 0 {
		t.Error("the conversation opened from a value shows no evidence highlighted")
	}
}
