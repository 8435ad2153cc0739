// Package explore is `valuescope serve`: a local web app from every number
// of a run — a value, a taxonomy cluster, a response type, a heatmap cell —
// to the conversations behind it, each shown whole with its annotations and
// their evidence quotes highlighted in the text; search by text and filters
// by metadata; and, for runs over the same conversations (a model A/B), both
// runs' annotations side by side and the list of conversations where they
// disagree.
//
// The numbers are package report's (report.Build: package analysis's tables
// and residuals, package compare's agreement, under the privacy floor),
// rebuilt when a run's store changes; nothing is computed here twice. The
// conversation lists are SQL over the run stores, attached read-only,
// paginated by position (seq), so a run of a million conversations is never
// loaded whole for a list. Runs are opened read-only: a run still being
// written is servable, and nothing is written to a run folder (a taxonomy
// the run has not built is not built here: the values are listed flat).
//
// A cluster lists the conversations of the values the tree shows under
// it: a value under the privacy floor is not on the tree, and its
// conversations are not in its cluster's list (they are in a search).
//
// Two modes. With Options.Text the conversations are shown; without it
// (aggregate-only, the default) only the floored numbers are served and
// every page or endpoint that would show a conversation's text, ID or
// annotations answers 403: a run over private logs can be served to people
// who may see its aggregates only.
//
// URLs are stable, so that a link can be shared: /r/RUN/ (RUN is the run's
// name), /r/RUN/conversations?field=F&value=V[&col=C&cv=X][&node=PATH]
// [&q=TEXT][&meta=K=V][&source=S][&after=SEQ], /r/RUN/conversation?source=S&id=ID
// [&with=RUN2], /r/RUN/disagree?with=RUN2[&field=F][&after=SEQ]; each also as
// JSON under /api (/api/r/RUN/...), and /api/status. A cluster's PATH is
// its names from the top (node=Epistemic/Honesty), so that it stays when
// counts reorder the tree. Requests must name the address served in their
// Host header (see Explorer.ServeHTTP).
package explore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// MaxRuns bounds the runs served with their conversations: each run's store
// is attached to one SQLite connection, which attaches at most ten.
const MaxRuns = 10

// PageSize is the number of conversations a list page shows.
const PageSize = 50

// Options control an explorer.
type Options struct {
	// Text serves the conversations (their text, IDs and annotations);
	// false serves the aggregate numbers only.
	Text bool
	// Report are the options of the numbers shown (Top, MaxContexts,
	// Tree, Settings...); Compare and BuildMax are set by the explorer.
	Report report.Options
	// Addr is the address listened on (host:port): a request naming
	// another host or port in its Host header is refused (see allowedHost).
	// Empty: any port of a loopback name.
	Addr string
}

// Run is one run served.
type Run struct {
	// Slug names the run in URLs: its name, made URL-safe and unique.
	Slug string
	Dir  string
	Name string

	alias string // the schema its store is attached as

	mu    sync.Mutex
	data  *report.Data
	stamp time.Time                      // the store's (and compared stores') modification time when data was built
	built time.Time                      // when
	raw   map[string]map[string][]string // field -> normalised name -> raw values
}

// Explorer serves runs. Its methods are safe for concurrent use.
type Explorer struct {
	opts   Options
	runs   []*Run
	bySlug map[string]*Run
	ix     *textIndex
	db     *sql.DB
	// readers are the connections with the stores attached, each used
	// by one request at a time: requests read side by side.
	readers chan *reader
	all     []*reader
	tmpl    *template.Template
	mux     *http.ServeMux
}

// Open opens the run folders to serve. With o.Text it starts reading their
// datasets' text into the explorer's index (in the background: lists and
// numbers are served at once, a conversation's text once read).
func Open(ctx context.Context, dirs []string, o Options) (*Explorer, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no run to serve")
	}
	if o.Text && len(dirs) > MaxRuns {
		return nil, fmt.Errorf("%d runs: serve shows the conversations of at most %d runs at once", len(dirs), MaxRuns)
	}
	e := &Explorer{opts: o, bySlug: map[string]*Run{}}
	for i, dir := range dirs {
		if _, err := runfolder.Existing(dir); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		r := &Run{Dir: abs, Name: filepath.Base(abs), alias: fmt.Sprintf("r%d", i)}
		if m, err := runfolder.Folder(dir).ReadManifest(); err != nil {
			return nil, err
		} else if m != nil && m.Run.Name != "" {
			r.Name = m.Run.Name
		}
		r.Slug = e.slug(r.Name)
		e.bySlug[r.Slug] = r
		e.runs = append(e.runs, r)
	}
	for _, r := range e.runs {
		if _, err := e.data(ctx, r); err != nil {
			return nil, fmt.Errorf("run %s: %w", r.Dir, err)
		}
	}
	var err error
	e.tmpl, err = template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	if o.Text {
		if err := e.openIndex(ctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	e.routes()
	return e, nil
}

var unsafeSlug = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slug is name made safe as one URL path segment and unique among the runs.
func (e *Explorer) slug(name string) string {
	s := strings.Trim(unsafeSlug.ReplaceAllString(name, "-"), "-.")
	if s == "" {
		s = "run"
	}
	out := s
	for n := 2; e.bySlug[out] != nil; n++ {
		out = fmt.Sprintf("%s-%d", s, n)
	}
	return out
}

func (e *Explorer) openIndex(ctx context.Context) error {
	ix, err := newTextIndex()
	if err != nil {
		return err
	}
	e.ix = ix
	e.db, err = sql.Open("sqlite", store.FileURI(ix.path)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	e.readers = make(chan *reader, readers)
	for range readers {
		conn, err := e.db.Conn(ctx)
		if err != nil {
			return err
		}
		rd := &reader{conn: conn, attached: map[*Run]time.Time{}}
		e.all = append(e.all, rd)
		for _, r := range e.runs {
			if err := e.attach(ctx, rd, r); err != nil {
				return err
			}
		}
		e.readers <- rd
	}
	ix.start(e.runs)
	return nil
}

// readers is how many requests read the stores at once: SQLite readers
// of WAL databases do not block each other, and the machine's cores bound
// what more would gain.
const readers = 4

// reader is a connection of the index with every run's store attached.
type reader struct {
	conn *sql.Conn
	// attached: each store's modification time when attached.
	attached map[*Run]time.Time
}

// attach attaches r's store to the reader's connection read-only (as
// store.AttachURI says: nothing is left in the run folder), again when the
// store's files changed since (a live run: an immutable attach would not
// see its writes). The caller has rd to itself.
func (e *Explorer) attach(ctx context.Context, rd *reader, r *Run) error {
	stamp := storeStamp(r.Dir)
	was, again := rd.attached[r]
	if again && stamp.Equal(was) {
		return nil
	}
	path := runfolder.Folder(r.Dir).Store()
	uri, err := store.AttachURI(path)
	if err != nil {
		return err
	}
	if again {
		if _, err := rd.conn.ExecContext(ctx, `DETACH DATABASE `+r.alias); err != nil {
			return fmt.Errorf("run %s: detaching its store to attach it again: %w", r.Name, err)
		}
		delete(rd.attached, r)
	}
	if _, err := rd.conn.ExecContext(ctx, `ATTACH DATABASE ? AS `+r.alias, uri); err != nil {
		return fmt.Errorf("opening run store %s read-only: %w", path, err)
	}
	rd.attached[r] = stamp
	return nil
}

// Close stops the index build and removes the index.
func (e *Explorer) Close() error {
	var err error
	for _, rd := range e.all {
		if cerr := rd.conn.Close(); err == nil {
			err = cerr
		}
	}
	if e.db != nil {
		e.db.Close()
	}
	if e.ix != nil {
		if cerr := e.ix.close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Runs are the runs served, in the order given.
func (e *Explorer) Runs() []*Run { return e.runs }

// Status is the text index's progress (zero in aggregate-only mode).
func (e *Explorer) Status() IndexStatus {
	if e.ix == nil {
		return IndexStatus{}
	}
	return e.ix.status()
}

// ServeHTTP serves the explorer. Every response says nosniff (so that no
// JSON is read as a script), and a request whose Host header is not the
// address served is refused: a page of another site whose domain is
// rebound to 127.0.0.1 (DNS rebinding) sends its own domain as the Host,
// and so can read nothing.
func (e *Explorer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !e.allowedHost(r.Host) {
		http.Error(w, fmt.Sprintf("host %q is not the address served (%s): refused", r.Host, e.addrName()), http.StatusMisdirectedRequest)
		return
	}
	e.mux.ServeHTTP(w, r)
}

func (e *Explorer) addrName() string {
	if e.opts.Addr == "" {
		return "localhost"
	}
	return e.opts.Addr
}

// allowedHost is whether a Host header names the address served: localhost
// or a loopback address, the listen host, or, when listening on every
// interface, an IP address (no name a DNS could rebind); with the port
// listened on when known.
func (e *Explorer) allowedHost(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	var lhost, lport string
	if e.opts.Addr != "" {
		if lhost, lport, err = net.SplitHostPort(e.opts.Addr); err != nil {
			return false
		}
		if port != lport {
			return false
		}
	}
	ip := net.ParseIP(host)
	switch {
	case strings.EqualFold(host, "localhost"), ip != nil && ip.IsLoopback():
		return true
	case lhost != "" && strings.EqualFold(host, lhost):
		return true
	case ip != nil && (lhost == "" || net.ParseIP(lhost).IsUnspecified()) && e.opts.Addr != "":
		return true
	}
	return false
}

// rebuildEvery bounds how often a run's numbers are rebuilt while its
// store keeps changing (a live run): a report is a full pass over the
// store, and a page asked for each second must not make one each time.
const rebuildEvery = 2 * time.Second

// data is the run's report data, rebuilt when its store changed since (or,
// for the first run, any store it is compared with: its A/B agreement), at
// most once per rebuildEvery.
func (e *Explorer) data(ctx context.Context, r *Run) (*report.Data, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp := storeStamp(r.Dir)
	if r == e.runs[0] {
		for _, other := range e.runs[1:] {
			if t := storeStamp(other.Dir); t.After(stamp) {
				stamp = t
			}
		}
	}
	if r.data != nil && (!stamp.After(r.stamp) || time.Since(r.built) < rebuildEvery) {
		return r.data, nil
	}
	o := e.opts.Report
	// BuildMax 1: the run's own taxonomy is reused when built, never built
	// (and written into the run folder) here.
	o.BuildMax = 1
	o.Compare = nil
	if r == e.runs[0] {
		for _, other := range e.runs[1:] {
			o.Compare = append(o.Compare, other.Dir)
		}
	}
	d, err := report.Build(ctx, r.Dir, o)
	if err != nil {
		return nil, err
	}
	r.data, r.stamp, r.raw, r.built = d, stamp, nil, time.Now()
	return d, nil
}

// storeStamp is the latest modification time of the run's store files.
func storeStamp(dir string) time.Time {
	var t time.Time
	for _, p := range runfolder.Folder(dir).StoreFiles() {
		// An empty -wal is a reader's (this one's), not a write.
		if fi, err := os.Stat(p); err == nil && (fi.Size() > 0 || p == runfolder.Folder(dir).Store()) && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}

// httpError is an error with the status it answers.
type httpError struct {
	code int
	msg  string
}

func (h *httpError) Error() string { return h.msg }

func notFound(format string, a ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// errAggregate answers every request for conversations in aggregate-only
// mode.
var errAggregate = &httpError{http.StatusForbidden, "aggregate-only: this explorer serves the runs' numbers, not their conversations (serve --text shows them)"}

// page is what a handler gives a template (and /api as JSON).
type page struct {
	Title string `json:"title"`
	// Run is the run the page is of (nil on the index).
	Run  *RunRef   `json:"run,omitempty"`
	Text bool      `json:"text"`
	Body any       `json:"body"`
	Runs []*RunRef `json:"-"`
}

// RunRef names a run on a page: its folder by base name only, as the
// report does (runfolder.Manifest.Public), since where the run lives on
// the server's disk is not for the people it is served to.
type RunRef struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	Dir  string `json:"dir"`
}

func (r *Run) ref() *RunRef { return &RunRef{Slug: r.Slug, Name: r.Name, Dir: filepath.Base(r.Dir)} }

type handler func(w http.ResponseWriter, req *http.Request, run *Run) (title, tmpl string, body any, err error)

func (e *Explorer) routes() {
	e.mux = http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	e.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	e.mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"text": e.opts.Text, "index": e.Status()})
	})
	e.handle("/{$}", false, e.index)
	e.handle("/r/{run}/{$}", false, e.overview)
	e.handle("/r/{run}/conversations", true, e.conversations)
	e.handle("/r/{run}/conversation", true, e.conversation)
	e.handle("/r/{run}/disagree", true, e.disagree)
	e.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		e.fail(w, req, notFound("no page %s", req.URL.Path))
	})
}

// handle registers h at path for HTML and under /api for JSON; text pages
// answer 403 in aggregate-only mode.
func (e *Explorer) handle(path string, text bool, h handler) {
	serve := func(asJSON bool) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			var run *Run
			if slug := req.PathValue("run"); slug != "" || strings.Contains(path, "{run}") {
				if run = e.bySlug[slug]; run == nil {
					e.failAs(w, req, asJSON, notFound("no run %q here", slug))
					return
				}
			}
			if text && !e.opts.Text {
				e.failAs(w, req, asJSON, errAggregate)
				return
			}
			title, tmpl, body, err := h(w, req, run)
			if err != nil {
				e.failAs(w, req, asJSON, err)
				return
			}
			p := &page{Title: title, Text: e.opts.Text, Body: body}
			if run != nil {
				p.Run = run.ref()
			}
			if asJSON {
				writeJSON(w, http.StatusOK, p)
				return
			}
			e.render(w, http.StatusOK, tmpl, p)
		}
	}
	e.mux.HandleFunc("GET "+path, serve(false))
	if path != "/{$}" {
		e.mux.HandleFunc("GET /api"+path, serve(true))
	}
}

func (e *Explorer) render(w http.ResponseWriter, code int, tmpl string, p *page) {
	var buf strings.Builder
	if err := e.tmpl.ExecuteTemplate(&buf, tmpl, p); err != nil {
		http.Error(w, "rendering "+tmpl+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
	w.WriteHeader(code)
	w.Write([]byte(buf.String()))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (e *Explorer) fail(w http.ResponseWriter, req *http.Request, err error) {
	e.failAs(w, req, strings.HasPrefix(req.URL.Path, "/api/"), err)
}

func (e *Explorer) failAs(w http.ResponseWriter, req *http.Request, asJSON bool, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
	} else if errors.Is(err, context.Canceled) {
		return
	}
	if asJSON {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	e.render(w, code, "error.html", &page{Title: http.StatusText(code), Text: e.opts.Text, Body: err.Error()})
}
