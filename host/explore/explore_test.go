package explore_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/testruns"
)

// offlineRun runs the offline stages over data into a run folder named
// name; values is the cue-values stage's config table (a model A/B's other
// arm: the same conversations, an extractor configured otherwise).
func offlineRun(t *testing.T, data, name, values string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	src := "[run]\nname = " + strconv.Quote(name) + "\n[dataset]\npaths = [" + strconv.Quote(data) + "]\n" +
		"[[stages]]\nname = \"response-type\"\nplugin = \"builtin:response-type\"\n" +
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n" + values
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	return out
}

// serve opens an explorer on the runs and waits for its text index.
func serve(t *testing.T, o explore.Options, dirs ...string) (*explore.Explorer, *httptest.Server) {
	t.Helper()
	e, err := explore.Open(context.Background(), dirs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	if o.Text {
		deadline := time.Now().Add(2 * time.Minute)
		for !e.Status().Done {
			if time.Now().After(deadline) {
				t.Fatalf("text index not built: %+v", e.Status())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if s := e.Status(); s.Error != "" {
			t.Fatal(s.Error)
		}
	}
	return e, srv
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	code, body := get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// oddID is a conversation ID with every character a URL or page could get
// wrong.
const oddID = `a/b/../"q'uote"?x=1&y#frag%2F ünï 会话`

// secret is text of that conversation that must never leave an
// aggregate-only explorer; script, that it is shown escaped.
const (
	secret = "zebra-umbrella-7731"
	script = `<script>alert("x")</script>`
)

// hostileRun is a run over conversations written for these tests: one with
// the odd ID whose assistant turn has a script tag in its evidence.
func hostileRun(t *testing.T) string {
	t.Helper()
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type conv struct {
		ID       string `json:"id"`
		Messages []msg  `json:"messages"`
	}
	convs := []conv{
		{oddID, []msg{{"user", "Tell me the truth about " + secret + "."},
			{"assistant", "I want to be honest with you " + script + " about this. It matters."}}},
		{"plain-1", []msg{{"user", "Is it safe?"}, {"assistant", "Honesty matters to me, and safety too."}}},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hostile.jsonl")
	var b strings.Builder
	for _, c := range convs {
		js, _ := json.Marshal(c)
		b.Write(js)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return offlineRun(t, path, "hostile", "")
}

func TestOddIDAndEscaping(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{Text: true}, dir)
	var list struct {
		Body explore.List `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/hostile/conversations", &list)
	var link string
	for _, c := range list.Body.Conversations {
		if c.ID == oddID {
			link = c.URL
		}
	}
	if link == "" {
		t.Fatalf("odd ID not listed: %+v", list.Body.Conversations)
	}
	// The list's link, followed, is the conversation of that ID.
	var conv struct {
		Body explore.ConvPage `json:"body"`
	}
	getJSON(t, srv.URL+"/api"+link, &conv)
	if conv.Body.ID != oddID {
		t.Fatalf("link %s opened conversation %q, want %q", link, conv.Body.ID, oddID)
	}
	// The HTML list links to it too, and the page shows the text escaped.
	_, page := get(t, srv.URL+"/r/hostile/conversations")
	if !slices.Contains(hrefs(page), link) {
		t.Errorf("the HTML list has no link %s: %v", link, hrefs(page))
	}
	code, page := get(t, srv.URL+link)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", link, code)
	}
	if strings.Contains(page, script) {
		t.Fatal("the conversation's <script> is in the page unescaped")
	}
	if !strings.Contains(page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Error("the conversation's <script> is not shown escaped")
	}
	// Its evidence (the sentence around "honest", script included) is
	// found and highlighted.
	found := false
	for _, a := range conv.Body.A.Annotations {
		if a.Evidence != "" && strings.Contains(a.Evidence, "<script>") && a.Found {
			found = true
		}
	}
	if !found {
		t.Errorf("no annotation with the script in its evidence found in the text: %+v", conv.Body.A.Annotations)
	}
	if !strings.Contains(page, `<mark class="evidence side-a"`) {
		t.Error("no evidence highlighted on the page")
	}
}

// hrefs are the links of a page, as a browser reads them.
func hrefs(page string) []string {
	var out []string
	for _, part := range strings.Split(page, `href="`)[1:] {
		h, _, _ := strings.Cut(part, `"`)
		out = append(out, html.UnescapeString(h))
	}
	return out
}

func TestNotFound(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{Text: true}, dir)
	for _, p := range []string{
		"/r/nope/",
		"/api/r/nope/conversations",
		"/r/hostile/conversation?source=x&id=nope",
		"/api/r/hostile/conversation?source=x&id=" + url.QueryEscape(oddID),
		"/r/hostile/conversations?field=nofield&value=x",
		"/r/hostile/conversations?field=ai_values&value=no-such-value",
		"/r/hostile/conversations?field=ai_values&node=99.1",
		"/r/hostile/disagree?with=nope",
		"/r/hostile/disagree?with=hostile",
		"/static/../../../../etc/passwd",
		"/static/..%2f..%2f..%2fetc%2fpasswd",
		"/r/..%2f..%2fetc/",
		"/r/hostile/..%2f..%2f",
		"/etc/passwd",
		"/static/nope.css",
	} {
		code, body := get(t, srv.URL+p)
		if code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
		if strings.Contains(body, "root:") {
			t.Errorf("GET %s served a system file", p)
		}
	}
	if code, _ := get(t, srv.URL+"/r/hostile/conversations?after=x"); code != http.StatusBadRequest {
		t.Errorf("after=x: %d, want 400", code)
	}
}

// TestAggregateOnly requests every page and JSON endpoint of an
// aggregate-only explorer, with every link of its pages followed, and
// finds no conversation's text or ID.
func TestAggregateOnly(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{}, dir)
	_, full := serve(t, explore.Options{Text: true}, dir)
	// Every path the full explorer serves, from its links.
	paths := crawl(t, full.URL, "/r/hostile/")
	paths = append(paths, "/", "/api/status", "/api/r/hostile/", "/r/hostile/conversations", "/api/r/hostile/conversations",
		"/r/hostile/conversations?q=zebra", "/r/hostile/conversation?source=x&id=plain-1",
		"/api/r/hostile/conversation?source=x&id=plain-1", "/r/hostile/disagree?with=hostile")
	if len(paths) < 12 {
		t.Fatalf("crawled only %d pages: %v", len(paths), paths)
	}
	sawConv := false
	for _, p := range paths {
		if strings.Contains(p, "/conversation?") {
			sawConv = true
		}
		for _, u := range []string{srv.URL + p, srv.URL + "/api" + p} {
			code, body := get(t, u)
			for _, bad := range []string{secret, "plain-1", "honest with you", "&#34;q&#39;uote", `q'uote`} {
				if strings.Contains(body, bad) {
					t.Errorf("aggregate-only GET %s (%d) shows %q", u, code, bad)
				}
			}
		}
	}
	if !sawConv {
		t.Fatal("the crawl reached no conversation page: the test proves nothing")
	}
	// And the full explorer does show it (the test can fail).
	if _, body := get(t, full.URL+"/r/hostile/conversations?q=zebra"); !strings.Contains(body, "plain-1") && !strings.Contains(body, "uote") {
		t.Fatal("the full explorer's search finds nothing")
	}
}

// crawl follows the links of the explorer's pages from start (same
// server, at most 200 pages) and returns the paths seen.
func crawl(t *testing.T, base, start string) []string {
	t.Helper()
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 && len(seen) < 200 {
		p := queue[0]
		queue = queue[1:]
		_, body := get(t, base+p)
		for _, h := range hrefs(body) {
			if !strings.HasPrefix(h, "/") || strings.HasPrefix(h, "//") || seen[h] {
				continue
			}
			seen[h] = true
			queue = append(queue, h)
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	return out
}

func TestServesOfflineRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the offline stages over the shared data")
	}
	dir := testruns.Offline(t, "hh-rlhf")
	_, srv := serve(t, explore.Options{Text: true}, dir)
	var ov struct {
		Body explore.Overview `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/run/", &ov)
	if len(ov.Body.Heatmaps) == 0 || len(ov.Body.Fields) == 0 {
		t.Fatalf("overview without heatmaps or fields: %+v", ov.Body)
	}
	// Every conversation of a value's first page has the value.
	var v explore.ValueView
	for _, f := range ov.Body.Fields {
		if f.Name == "ai_values" && len(f.Values) > 0 {
			v = f.Values[0]
		}
	}
	var list struct {
		Body explore.List `json:"body"`
	}
	getJSON(t, srv.URL+"/api"+v.URL, &list)
	if want := min(v.Count, explore.PageSize); len(list.Body.Conversations) != want {
		t.Errorf("value %s (%d conversations): first page has %d, want %d", v.Value, v.Count, len(list.Body.Conversations), want)
	}
	// Pages chain: following Next covers the value's count exactly.
	n, next := len(list.Body.Conversations), list.Body.Next
	for next != "" {
		var l struct {
			Body explore.List `json:"body"`
		}
		getJSON(t, srv.URL+"/api"+next, &l)
		n, next = n+len(l.Body.Conversations), l.Body.Next
	}
	if n != v.Count {
		t.Errorf("value %s: %d conversations over the pages, the report counts %d", v.Value, n, v.Count)
	}
}
