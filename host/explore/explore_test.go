package explore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/valuename"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
)

// offlineRun runs the offline stages over data into a run folder named
// name; values is the cue-values stage's config table (a model A/B's other
// arm: the same conversations, an extractor configured otherwise).
func offlineRun(t *testing.T, data, name, values string) string {
	t.Helper()
	return testruns.Run(t, testruns.OfflineConfig(name, data, values), run.Options{})
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
		"/r/hostile/conversations?field=response_type&value=no-such-label",
		"/api/r/hostile/conversations?field=ai_values&value=honesty&col=nocol&cv=x",
		"/api/r/hostile/conversations?field=ai_values&value=honesty&col=meta.&cv=x",
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
	// A short search is a LIKE: its wildcards are the user's text.
	for _, q := range []string{"%25", "_", "%25_"} {
		var list struct {
			Body explore.List `json:"body"`
		}
		getJSON(t, srv.URL+"/api/r/hostile/conversations?q="+q, &list)
		if len(list.Body.Conversations) != 0 {
			t.Errorf("q=%s: %d conversations, none holds it", q, len(list.Body.Conversations))
		}
	}
	// Text FTS5 cannot take: a clear 400, not an SQL message.
	for _, q := range []string{"%00", "a%00b", "%01x", "%FF%FE"} {
		code, body := get(t, srv.URL+"/api/r/hostile/conversations?q="+q)
		if code != http.StatusBadRequest || !strings.Contains(body, "q: ") || strings.Contains(strings.ToLower(body), "sql") {
			t.Errorf("q=%s: %d %s, want 400 naming q", q, code, body)
		}
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
	if n := len(pages(t, srv.URL, v.URL)); n != v.Count {
		t.Errorf("value %s: %d conversations over the pages, the report counts %d", v.Value, n, v.Count)
	}
	// A response type (a label) lists exactly its conversations.
	for _, f := range ov.Body.Fields {
		if f.Kind != "label" || len(f.Values) == 0 {
			continue
		}
		l := f.Values[len(f.Values)-1]
		convs := pages(t, srv.URL, l.URL)
		if len(convs) != l.Count {
			t.Errorf("%s = %s: %d conversations listed, the report counts %d", f.Name, l.Value, len(convs), l.Count)
		}
		p := conversationPage(t, srv.URL, convs[0].URL)
		has := false
		for _, a := range p.A.Annotations {
			has = has || (a.Field == f.Name && a.Label && a.Value == l.Value)
		}
		if !has {
			t.Errorf("%s = %s lists %s, which has another label: %+v", f.Name, l.Value, convs[0].ID, p.A.Annotations)
		}
	}
}

// TestLiveRun serves a run while it is being written: what is written
// after the explorer opened it is listed, and the numbers follow.
func TestLiveRun(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{Text: true}, dir)
	var ov struct {
		Body explore.Overview `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/hostile/", &ov)
	before := ov.Body.Conversations
	st, err := store.Open(runfolder.Folder(dir).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Write(context.Background(), []store.Result{{
		Conv:  store.Conversation{Seq: 1000, ID: "late-1", Source: "hostile.jsonl", ContentSHA: "x", MetaJSON: `{"model":"m1"}`},
		Stage: "values",
		Items: []store.Annotation{{Field: "ai_values", Value: "honesty", AttrsJSON: `{"evidence":"late"}`}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Body explore.List `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/hostile/conversations?meta=model%3Dm1", &list)
	if len(list.Body.Conversations) != 1 || list.Body.Conversations[0].ID != "late-1" {
		t.Fatalf("the conversation written after serve started is not listed: %+v", list.Body.Conversations)
	}
	// The numbers are rebuilt at most once per two seconds.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, srv.URL+"/api/r/hostile/", &ov)
		if ov.Body.Conversations == before+1 || time.Now().After(deadline) {
			break
		}
	}
	if ov.Body.Conversations != before+1 {
		t.Errorf("overview counts %d conversations after a write, want %d", ov.Body.Conversations, before+1)
	}
	var conv struct {
		Body explore.ConvPage `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/hostile/conversation?source=hostile.jsonl&id=late-1", &conv)
	if !strings.Contains(conv.Body.TextNote, "not in the run's dataset") {
		t.Errorf("a conversation without text says %q", conv.Body.TextNote)
	}
}

// TestClusterSearchMeta follows a taxonomy cluster, a text search and a
// metadata filter of the offline run, checking each listed conversation
// against the conversation itself.
func TestClusterSearchMeta(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the offline stages over the shared data and builds its taxonomy")
	}
	dir := testruns.Offline(t, "hh-rlhf")
	// The run's own taxonomy (the run's report built it; else it is built
	// here): serve shows it, and never builds one itself.
	if tree, info, err := taxonomy.RunTree(context.Background(), dir, "ai_values", taxonomy.RunTreeOptions{}); err != nil || tree == nil {
		t.Fatalf("building the run's taxonomy: %v %+v", err, info)
	}
	_, srv := serve(t, explore.Options{Text: true}, dir)
	var ov struct {
		Body explore.Overview `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/run/", &ov)
	if ov.Body.Tree == nil || len(ov.Body.Tree.Children) == 0 {
		t.Fatalf("no taxonomy: %s", ov.Body.Taxonomy)
	}
	cluster := ov.Body.Tree.Children[0]
	if cluster.URL == "" || len(cluster.Children) == 0 {
		t.Fatalf("the first cluster %q has no link or no children", cluster.Name)
	}
	// A cluster lists the conversations of the values the tree shows
	// under it: the union of its leaves' lists, and all the tree counts
	// when no value under it is under the privacy floor.
	leaves := map[string]bool{}
	union := map[string]bool{}
	suppressed := 0
	var walk func(*explore.NodeView)
	walk = func(n *explore.NodeView) {
		suppressed += n.Suppressed
		if len(n.Children) == 0 {
			leaves[valuename.Key(n.Name)] = true
			for _, c := range pages(t, srv.URL, n.URL) {
				union[c.Source+"\x00"+c.ID] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(cluster)
	convs := pages(t, srv.URL, cluster.URL)
	if len(convs) != len(union) || len(convs) > cluster.Conversations || (suppressed == 0 && len(convs) != cluster.Conversations) {
		t.Errorf("cluster %q: %d conversations listed, its leaves list %d, the tree counts %d (%d values under the floor)",
			cluster.Name, len(convs), len(union), cluster.Conversations, suppressed)
	}
	for _, c := range convs {
		if !union[c.Source+"\x00"+c.ID] {
			t.Errorf("cluster %q lists %s, which none of its leaves lists", cluster.Name, c.ID)
			break
		}
	}
	for _, c := range convs[:min(len(convs), 20)] {
		p := conversationPage(t, srv.URL, c.URL)
		ok := false
		for _, a := range p.A.Annotations {
			if a.Field == "ai_values" && leaves[valuename.Key(a.Value)] {
				ok = true
			}
		}
		if !ok {
			t.Errorf("conversation %s listed under cluster %q has none of its values", c.ID, cluster.Name)
		}
	}

	// Text search: every hit has the words, and a conversation that has
	// them is found.
	first := conversationPage(t, srv.URL, convs[0].URL)
	words := strings.Fields(first.Turns[0].Segments[0].Text)
	phrase := strings.Join(words[:min(3, len(words))], " ")
	hits := pages(t, srv.URL, "/r/run/conversations?q="+url.QueryEscape(phrase))
	found := false
	for _, h := range hits {
		found = found || h.ID == first.ID
	}
	if !found {
		t.Errorf("searching %q does not find conversation %s", phrase, first.ID)
	}
	for _, h := range hits[:min(len(hits), 10)] {
		p := conversationPage(t, srv.URL, h.URL)
		var text strings.Builder
		for _, tv := range p.Turns {
			for _, s := range tv.Segments {
				text.WriteString(s.Text)
			}
			text.WriteByte(' ')
		}
		if !strings.Contains(strings.ToLower(strings.Join(strings.Fields(text.String()), " ")), strings.ToLower(strings.Join(strings.Fields(phrase), " "))) {
			t.Errorf("search %q lists %s, which does not contain it", phrase, h.ID)
		}
	}
	// A metadata filter lists exactly the conversations with that value.
	if len(first.Meta) == 0 {
		t.Fatalf("conversation %s has no metadata to filter by", first.ID)
	}
	k, v := first.Meta[0][0], first.Meta[0][1]
	for _, h := range pages(t, srv.URL, "/r/run/conversations?meta="+url.QueryEscape(k+"="+v))[:1] {
		p := conversationPage(t, srv.URL, h.URL)
		if !slices.Contains(p.Meta, [2]string{k, v}) {
			t.Errorf("meta %s=%s lists %s with metadata %v", k, v, h.ID, p.Meta)
		}
	}
}

// pages reads a list (path, an HTML page's path) and every page after it.
func pages(t *testing.T, base, path string) []explore.ConvRow {
	t.Helper()
	var out []explore.ConvRow
	for path != "" {
		var l struct {
			Body explore.List `json:"body"`
		}
		getJSON(t, base+"/api"+path, &l)
		out = append(out, l.Body.Conversations...)
		path = l.Body.Next
	}
	return out
}

func conversationPage(t *testing.T, base, path string) explore.ConvPage {
	t.Helper()
	var c struct {
		Body explore.ConvPage `json:"body"`
	}
	getJSON(t, base+"/api"+path, &c)
	return c.Body
}

// TestMaxRuns: more runs than SQLite attaches are refused with --text,
// by name, before anything is opened.
func TestMaxRuns(t *testing.T) {
	dirs := make([]string, explore.MaxRuns+1)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	_, err := explore.Open(context.Background(), dirs, explore.Options{Text: true})
	if err == nil || !strings.Contains(err.Error(), "at most 10 runs") {
		t.Fatalf("%d runs with text: %v", len(dirs), err)
	}
	// A folder that is not a run is refused, naming it.
	_, err = explore.Open(context.Background(), dirs[:1], explore.Options{})
	if err == nil || !strings.Contains(err.Error(), dirs[0]) {
		t.Fatalf("a folder that is not a run: %v", err)
	}
}

// TestHostCheck is DNS rebinding: a page of attacker.example, its name
// rebound to 127.0.0.1, sends its own name as the Host; the explorer must
// refuse it, and say nosniff on every answer.
func TestHostCheck(t *testing.T) {
	dir := hostileRun(t)
	e, err := explore.Open(context.Background(), []string{dir}, explore.Options{Text: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewUnstartedServer(nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	e2, err := explore.Open(context.Background(), []string{dir}, explore.Options{Text: true, Addr: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e2.Close() })
	srv.Config.Handler = e2
	srv.Start()
	t.Cleanup(srv.Close)
	p := fmt.Sprintf(":%d", port)
	for host, want := range map[string]int{
		"attacker.example" + p:      http.StatusMisdirectedRequest,
		"attacker.example":          http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io" + p:      http.StatusMisdirectedRequest,
		"localhost:1" + p[1:] + "9": http.StatusMisdirectedRequest,
		"127.0.0.1:1":               http.StatusMisdirectedRequest,
		"127.0.0.1" + p:             http.StatusOK,
		"localhost" + p:             http.StatusOK,
		"[::1]" + p:                 http.StatusOK,
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/r/hostile/conversations", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Host %s: no X-Content-Type-Options: nosniff", host)
		}
	}
	// Without Options.Addr: loopback names on any port, nothing else.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/status", nil)
	req.Host = "attacker.example:8080"
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("no Addr, Host attacker.example: %d", rec.Code)
	}
}

// TestNoServerPath: the run folder's absolute path is on no page or JSON
// answer (its base name names it).
func TestNoServerPath(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{Text: true}, dir)
	for _, p := range []string{"/", "/r/hostile/", "/api/r/hostile/", "/api/r/hostile/conversations", "/api/status",
		"/api/r/hostile/conversation?source=hostile.jsonl&id=plain-1", "/r/hostile/conversations?field=ai_values&value=honesty"} {
		_, body := get(t, srv.URL+p)
		if strings.Contains(body, filepath.Dir(dir)) || strings.Contains(body, filepath.ToSlash(filepath.Dir(dir))) {
			t.Errorf("GET %s shows the run's path %s", p, dir)
		}
	}
}

// TestEvidenceInItsSide: in Chatbot Arena's chatbot_arena_0149 the user's
// code holds the sentence the assistant quotes back ("You have to be
// careful of the sun…"); the assistant's evidence must be highlighted in
// the assistant's turn (the first holding it, where cue-values found it),
// once, and not in the user's.
func TestEvidenceInItsSide(t *testing.T) {
	src := shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"id": "chatbot_arena_0149"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("%s has no chatbot_arena_0149", src)
	}
	path := filepath.Join(t.TempDir(), "arena_0149.jsonl")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := offlineRun(t, path, "arena", "")
	_, srv := serve(t, explore.Options{Text: true}, dir)
	var conv struct {
		Body explore.ConvPage `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/arena/conversation?source=arena_0149.jsonl&id=chatbot_arena_0149", &conv)
	checked := 0
	for _, a := range conv.Body.A.Annotations {
		if a.Evidence == "" || !strings.HasPrefix(a.Field, "ai_") {
			continue
		}
		var turns []int
		for i, tv := range conv.Body.Turns {
			for _, s := range tv.Segments {
				if slices.Contains(s.Marks, a.N) {
					turns = append(turns, i)
					break
				}
			}
		}
		if !a.Found || len(turns) != 1 || conv.Body.Turns[turns[0]].Role != "assistant" {
			t.Errorf("%s %s (evidence %q): highlighted in turns %v, want one assistant turn", a.Field, a.Value, a.Evidence, turns)
		}
		if strings.Contains(a.Evidence, "careful of the sun") {
			checked++
		}
	}
	if checked == 0 {
		t.Fatalf("no ai_values evidence quoting the user's sentence: %+v", conv.Body.A.Annotations)
	}
}

// TestNothingInRunFolder: serving a finished run with its text, and
// reading it, leaves no file in the run folder (no -shm or -wal of a
// read-only attach), during and after.
func TestNothingInRunFolder(t *testing.T) {
	dir := hostileRun(t)
	list := func() []string {
		var out []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, strings.TrimPrefix(p, dir))
			}
			return nil
		})
		return out
	}
	before := list()
	e, srv := serve(t, explore.Options{Text: true}, dir)
	for _, p := range []string{"/", "/r/hostile/", "/api/r/hostile/conversations?q=honest", "/api/r/hostile/conversation?source=hostile.jsonl&id=plain-1"} {
		if code, body := get(t, srv.URL+p); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}
	if during := list(); !slices.Equal(during, before) {
		t.Errorf("while serving, the run folder holds %v, before %v", during, before)
	}
	srv.Close()
	e.Close()
	if after := list(); !slices.Equal(after, before) {
		t.Errorf("after serving, the run folder holds %v, before %v", after, before)
	}
}

// TestIndexHoldsTheRunOnly: the text index reads the run's conversations,
// not its whole dataset: a run of a sample of 40 of Chatbot Arena's 2,129
// conversations indexes 40, and those are the ones it can show.
func TestIndexHoldsTheRunOnly(t *testing.T) {
	src := shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl")
	cfg := "[run]\nname = \"sample\"\n[dataset]\npaths = [" + strconv.Quote(src) + "]\n" +
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"
	out := testruns.Run(t, cfg, run.Options{Sample: 40, Seed: 3})
	e, srv := serve(t, explore.Options{Text: true}, out)
	if got := e.Status().Read; got != 40 {
		t.Errorf("the index read %d conversations, want the run's 40", got)
	}
	var list struct {
		Body explore.List `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/sample/conversations", &list)
	if len(list.Body.Conversations) != 40 {
		t.Fatalf("%d conversations listed, want 40", len(list.Body.Conversations))
	}
	for _, cv := range list.Body.Conversations {
		if cv.Snippet == "" {
			t.Errorf("conversation %s has no text in the index", cv.ID)
		}
	}
}

// TestStaleIndexRemoved: an index folder whose server was killed (its PID
// dead) is removed when the next server starts; one of a live process, or
// without a PID file, is left; the new one holds this process's PID.
func TestStaleIndexRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1) to get a dead PID from:", err)
	}
	dead := cmd.Process.Pid
	mk := func(name, pid string) string {
		d := filepath.Join(tmp, "valuescope-serve-"+name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "index.sqlite"), []byte("x"), 0o600)
		if pid != "" {
			os.WriteFile(filepath.Join(d, "pid"), []byte(pid+"\n"), 0o600)
		}
		return d
	}
	stale := mk("stale", strconv.Itoa(dead))
	live := mk("live", strconv.Itoa(os.Getppid()))
	nopid := mk("nopid", "")
	garbage := mk("garbage", "not a pid")
	e, _ := serve(t, explore.Options{Text: true}, hostileRun(t))
	for d, want := range map[string]bool{stale: false, live: true, nopid: true, garbage: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
	mine, _ := filepath.Glob(filepath.Join(tmp, "valuescope-serve-*", "pid"))
	found := false
	for _, p := range mine {
		if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
			found = true
		}
	}
	if !found {
		t.Errorf("no index folder with this process's PID among %v", mine)
	}
	e.Close()
	if left, _ := filepath.Glob(filepath.Join(tmp, "valuescope-serve-*")); len(left) != 3 {
		t.Errorf("after Close: %v, want the three left", left)
	}
}

// TestSearchChinese: search finds text inside Chinese sentences (no spaces
// between words) in the Chinese ShareGPT file, three characters and more
// by the trigram index, one or two by a scan; every conversation listed
// holds the text, and the one it was taken from is among them.
func TestSearchChinese(t *testing.T) {
	src := shareddata.Path(t, "sharegpt/sharegpt_zh_1K_format.jsonl")
	cfg := "[run]\nname = \"zh\"\n[dataset]\npaths = [" + strconv.Quote(src) + "]\nlimit = 60\n" +
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"
	out := testruns.Run(t, cfg, run.Options{})
	_, srv := serve(t, explore.Options{Text: true}, out)
	var all struct {
		Body explore.List `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/zh/conversations", &all)
	// The tenth conversation's assistant text, from its middle.
	page := conversationPage(t, srv.URL, all.Body.Conversations[9].URL)
	var text []rune
	for _, tv := range page.Turns {
		if tv.Role == "assistant" {
			for _, s := range tv.Segments {
				text = append(text, []rune(s.Text)...)
			}
			break
		}
	}
	mid := len(text) / 2
	for mid < len(text)-5 && (text[mid] < 0x4e00 || text[mid+3] > 0x9fff || text[mid+3] < 0x4e00) {
		mid++
	}
	for _, n := range []int{4, 3, 2, 1} {
		q := string(text[mid : mid+n])
		var list struct {
			Body explore.List `json:"body"`
		}
		getJSON(t, srv.URL+"/api/r/zh/conversations?q="+url.QueryEscape(q), &list)
		found := false
		for _, cv := range list.Body.Conversations {
			found = found || cv.ID == page.ID
			p := conversationPage(t, srv.URL, cv.URL)
			var body strings.Builder
			for _, tv := range p.Turns {
				for _, s := range tv.Segments {
					body.WriteString(s.Text)
				}
			}
			if !strings.Contains(body.String(), q) {
				t.Errorf("q=%q lists %s, which does not contain it", q, cv.ID)
			}
		}
		if !found {
			t.Errorf("q=%q (from conversation %s) does not list it: %d listed", q, page.ID, len(list.Body.Conversations))
		}
	}
}

// TestABLive: a live run B's writes reach A's A/B agreement (A's numbers
// are rebuilt when a compared store changes, not only its own).
func TestABLive(t *testing.T) {
	a := hostileRun(t)
	m, err := runfolder.Folder(a).ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	b := offlineRun(t, m.Dataset.Paths[0], "hostile-b", "")
	_, srv := serve(t, explore.Options{Text: true}, a, b)
	var ov struct {
		Body explore.Overview `json:"body"`
	}
	getJSON(t, srv.URL+"/api/r/hostile/", &ov)
	if len(ov.Body.Compare) != 1 {
		t.Fatalf("A's overview compares with %d runs, want 1", len(ov.Body.Compare))
	}
	before := ov.Body.Compare[0].Sharing.OnlyB
	st, err := store.Open(runfolder.Folder(b).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Write(context.Background(), []store.Result{{
		Conv:  store.Conversation{Seq: 1000, ID: "late-b", Source: "hostile.jsonl", ContentSHA: "x", MetaJSON: `{}`},
		Stage: "values",
		Items: []store.Annotation{{Field: "ai_values", Value: "honesty"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := before
	for deadline := time.Now().Add(10 * time.Second); got != before+1 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		getJSON(t, srv.URL+"/api/r/hostile/", &ov)
		got = ov.Body.Compare[0].Sharing.OnlyB
	}
	if got != before+1 {
		t.Errorf("after B wrote a conversation A has not, A's overview counts %d only in B, want %d", got, before+1)
	}
}

// TestConcurrentReads: requests read side by side on the pool of reader
// connections, each answering as it does alone (run with -race).
func TestConcurrentReads(t *testing.T) {
	dir := hostileRun(t)
	_, srv := serve(t, explore.Options{Text: true}, dir)
	paths := []string{"/api/r/hostile/conversations", "/api/r/hostile/conversations?q=honest",
		"/api/r/hostile/conversations?field=ai_values&value=honesty",
		"/api/r/hostile/conversation?source=hostile.jsonl&id=plain-1", "/api/r/hostile/"}
	want := map[string]string{}
	for _, p := range paths {
		_, want[p] = get(t, srv.URL+p)
	}
	errs := make(chan string, 64)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 10 {
				p := paths[(g+k)%len(paths)]
				resp, err := http.Get(srv.URL + p)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != want[p] {
					errs <- fmt.Sprintf("GET %s concurrently: %.200s", p, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
