package report_test

// A minimal Chrome DevTools Protocol client (a websocket client of its own,
// no dependency) to check the report in headless Chromium.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type wsConn struct {
	c  net.Conn
	br *bufio.Reader
	mu sync.Mutex
}

func wsDial(raw string) (*wsConn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	k := make([]byte, 16)
	rand.Read(k)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(k))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &wsConn{c: c, br: br}, nil
}

func (w *wsConn) send(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	h = append(h, mask...)
	b := make([]byte, len(p))
	for i := range p {
		b[i] = p[i] ^ mask[i%4]
	}
	_, err := w.c.Write(append(h, b...))
	return err
}

// read returns the next message (text frames, fragments joined).
func (w *wsConn) read() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(w.br, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(w.br, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(w.br, p); err != nil {
			return nil, err
		}
		op := h[0] & 0x0f
		if op == 8 {
			return nil, io.EOF
		}
		if op == 9 || op == 10 {
			continue
		}
		msg = append(msg, p...)
		if h[0]&0x80 != 0 {
			return msg, nil
		}
	}
}

// cdp is a session with one page.
type cdp struct {
	ws      *wsConn
	mu      sync.Mutex
	id      int
	pending map[int]chan cdpMsg
	events  chan cdpMsg
}

type cdpMsg struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func newCDP(ws *wsConn) *cdp {
	c := &cdp{ws: ws, pending: map[int]chan cdpMsg{}, events: make(chan cdpMsg, 10000)}
	go func() {
		for {
			b, err := ws.read()
			if err != nil {
				close(c.events)
				return
			}
			var m cdpMsg
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			if m.ID != 0 {
				c.mu.Lock()
				ch := c.pending[m.ID]
				delete(c.pending, m.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- m
				}
				continue
			}
			select {
			case c.events <- m:
			default:
			}
		}
	}()
	return c
}

func (c *cdp) call(method string, params any, result any) error {
	c.mu.Lock()
	c.id++
	id := c.id
	ch := make(chan cdpMsg, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := c.ws.send(b); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no answer", method)
	}
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (c *cdp) eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return fmt.Errorf("evaluate %q: %s", expr, r.Exception.Text)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// browser starts headless Chromium and opens a CDP session on its page.
// It skips the test when Chromium is absent (fails under CI=true).
func browser(t testing.TB) *cdp {
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
	// Not t.TempDir: Chromium's helper processes may still be writing its
	// profile when the browser itself has exited, and a failed removal
	// would fail the test. The folder is removed on a best-effort basis.
	profile, err := os.MkdirTemp("", "valuescope-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1280,1600", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	u, _ := url.Parse(wsURL)
	var targets []struct {
		Type, WebSocketDebuggerURL string
	}
	for range 50 {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		if len(targets) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			ws, err := wsDial(tg.WebSocketDebuggerURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.c.Close() })
			return newCDP(ws)
		}
	}
	t.Fatalf("no page target in %v", targets)
	return nil
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
	for _, m := range []string{"Page.enable", "Runtime.enable", "Network.enable", "Log.enable"} {
		if err := c.call(m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Drain events of about:blank.
	for len(c.events) > 0 {
		<-c.events
	}
	pl := &pageLoad{}
	start := time.Now()
	if err := c.call("Page.navigate", map[string]any{"url": "file://" + path}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	loaded := false
	var settle <-chan time.Time
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				t.Fatal("browser connection closed")
			}
			switch m.Method {
			case "Page.loadEventFired":
				if !loaded {
					loaded = true
					pl.elapsed = time.Since(start)
					settle = time.After(300 * time.Millisecond)
				}
			case "Network.requestWillBeSent":
				var p struct{ Request struct{ URL string } }
				json.Unmarshal(m.Params, &p)
				pl.requests = append(pl.requests, p.Request.URL)
			case "Network.loadingFailed":
				pl.failed = append(pl.failed, string(m.Params))
			case "Runtime.exceptionThrown":
				pl.errors = append(pl.errors, string(m.Params))
			case "Runtime.consoleAPICalled":
				var p struct{ Type string }
				json.Unmarshal(m.Params, &p)
				if p.Type == "error" || p.Type == "assert" {
					pl.errors = append(pl.errors, string(m.Params))
				}
			case "Log.entryAdded":
				var p struct{ Entry struct{ Level string } }
				json.Unmarshal(m.Params, &p)
				if p.Entry.Level == "error" {
					pl.errors = append(pl.errors, string(m.Params))
				}
			}
		case <-settle:
			if err := c.eval(`performance.getEntriesByType("navigation")[0].loadEventEnd`, &pl.loadMS); err != nil {
				t.Fatal(err)
			}
			return pl
		case <-deadline:
			t.Fatal("the page did not load in 60 s")
		}
	}
}

func (c *cdp) screenshot(t testing.TB, paths ...string) {
	t.Helper()
	var r struct{ Data string }
	if err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": false}, &r); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// click clicks the element matched by selector with the mouse, at its
// centre, after scrolling it into view.
func (c *cdp) click(t testing.TB, selector string) {
	t.Helper()
	var pos struct{ X, Y float64 }
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return {x: r.left + Math.min(r.width/2, 40), y: r.top + r.height/2}; })()`, selector)
	if err := c.eval(js, &pos); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		if err := c.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": pos.X, "y": pos.Y, "button": "left", "clickCount": 1}, nil); err != nil {
			t.Fatal(err)
		}
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
