package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var ctx = context.Background()

func open(t testing.TB, path string) *Store {
	t.Helper()
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.sqlite")
	return open(t, path), path
}

func conv(seq int64) Conversation {
	return Conversation{Seq: seq, ID: fmt.Sprintf("c%d", seq), Source: "data.jsonl", ContentSHA: "sha", MetaJSON: "{}"}
}

// items makes n extracted items.
func items(n int) []Annotation {
	out := make([]Annotation, n)
	for i := range out {
		out[i] = Annotation{Field: "ai_values", Value: fmt.Sprintf("v%d", i), AttrsJSON: fmt.Sprintf(`{"i":%d}`, i)}
	}
	return out
}

func setStages(t testing.TB, st *Store, names ...string) []string {
	t.Helper()
	var stages []Stage
	for _, n := range names {
		name, fp, _ := strings.Cut(n, "=")
		stages = append(stages, Stage{Name: name, Fingerprint: fp})
	}
	inv, err := st.SetStages(stages)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func write(t testing.TB, st *Store, batch ...Result) {
	t.Helper()
	if err := st.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
}

func snap(t testing.TB, st *Store) *Snapshot {
	t.Helper()
	sn, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn
}

func collect[T any](t testing.TB, rows *Rows[T]) []T {
	t.Helper()
	var out []T
	for r, err := range rows.All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// pairs lists the results as "seq/stage/status".
func pairs(t testing.TB, st *Store) []string {
	t.Helper()
	var out []string
	for _, r := range collect(t, snap(t, st).Results()) {
		out = append(out, fmt.Sprintf("%d/%s/%t", r.Seq, r.Stage, r.OK))
	}
	slices.Sort(out)
	return out
}

func TestSchema(t *testing.T) {
	st, path := newStore(t)
	if v, err := st.Meta("schema"); err != nil || v != schemaVersion {
		t.Fatalf("schema %q %v", v, err)
	}
	if c, err := st.Count(ctx); err != nil || c.Conversations != 0 || c.Annotations != 0 || c.BadRecords != 0 {
		t.Fatalf("new store: %+v %v", c, err)
	}
	st.Close()

	// Reopening a store of this version works, read-write or read-only.
	st = open(t, path)
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()

	// Another version is refused, both ways.
	if err := st.SetMeta("schema", "0"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err := Open(path); err == nil || !strings.Contains(err.Error(), "schema version 0") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("an old store opened: %v", err)
	}
	if ro, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "schema version 0") {
		if ro != nil {
			ro.Close()
		}
		t.Fatalf("an old store opened read-only: %v", err)
	}

	// Read-only opens no store that is not there, and makes none.
	missing := filepath.Join(t.TempDir(), "store.sqlite")
	if ro, err := OpenReadOnly(missing); err == nil {
		ro.Close()
		t.Fatal("opened a missing store")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("read-only open made a store")
	}
}

func TestSetStages(t *testing.T) {
	st, _ := newStore(t)
	if inv := setStages(t, st, "a=1", "b=1", "c=1"); len(inv) != 0 {
		t.Fatalf("first stages invalidated %v", inv)
	}
	fill := func() {
		for _, s := range []string{"a", "b", "c"} {
			st.Write(ctx, []Result{{Conv: conv(1), Stage: s, Items: items(2)}}) // may exist: error ignored
		}
	}
	fill()
	all := []string{"1/a/true", "1/b/true", "1/c/true"}
	if got := pairs(t, st); !reflect.DeepEqual(got, all) {
		t.Fatal(got)
	}

	// The same stages: nothing lost.
	if inv := setStages(t, st, "a=1", "b=1", "c=1"); len(inv) != 0 || !reflect.DeepEqual(pairs(t, st), all) {
		t.Fatalf("unchanged stages invalidated %v", inv)
	}
	// A changed fingerprint loses that stage and those after it.
	if inv := setStages(t, st, "a=1", "b=2", "c=1"); !reflect.DeepEqual(inv, []string{"b", "c"}) {
		t.Fatalf("b changed: invalidated %v", inv)
	}
	if got := pairs(t, st); !reflect.DeepEqual(got, []string{"1/a/true"}) {
		t.Fatalf("after b changed: %v", got)
	}
	if n := len(collect(t, snap(t, st).Annotations())); n != 2 {
		t.Fatalf("%d annotations left, want a's 2", n)
	}
	fill()
	// A stage moved: it and everything after its old or new place.
	if inv := setStages(t, st, "b=2", "a=1", "c=1"); !reflect.DeepEqual(inv, []string{"b", "a", "c"}) {
		t.Fatalf("reordered: invalidated %v", inv)
	}
	fill()
	// A stage added at the end invalidates nothing; one removed loses its
	// results and its row.
	if inv := setStages(t, st, "b=2", "a=1", "c=1", "d=1"); len(inv) != 0 {
		t.Fatalf("added d: invalidated %v", inv)
	}
	if inv := setStages(t, st, "b=2", "a=1"); !reflect.DeepEqual(inv, []string{"c", "d"}) && !reflect.DeepEqual(inv, []string{"d", "c"}) {
		t.Fatalf("removed c, d: invalidated %v", inv)
	}
	if got := pairs(t, st); !reflect.DeepEqual(got, []string{"1/a/true", "1/b/true"}) {
		t.Fatalf("after removing c: %v", got)
	}
	stages, err := snap(t, st).Stages()
	if err != nil {
		t.Fatal(err)
	}
	if want := []StoredStage{{"b", 0, "2"}, {"a", 1, "1"}}; !reflect.DeepEqual(stages, want) {
		t.Fatalf("stages %+v", stages)
	}
}

// A batch is written whole or not at all: a result that cannot be stored
// (its pair is already done) leaves no trace of the results beside it.
func TestWriteAllOrNothing(t *testing.T) {
	st, _ := newStore(t)
	setStages(t, st, "values=1")
	write(t, st, Result{Conv: conv(1), Stage: "values", Items: items(1)})
	err := st.Write(ctx, []Result{
		{Conv: conv(2), Stage: "values", Items: items(3)},
		{Conv: conv(1), Stage: "values", Items: items(2)}, // done already
	})
	if err == nil {
		t.Fatal("a done pair written twice")
	}
	c, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Conversations != 1 || c.Annotations != 1 {
		t.Fatalf("a failed batch left %+v", c)
	}
	if got := pairs(t, st); !reflect.DeepEqual(got, []string{"1/values/true"}) {
		t.Fatal(got)
	}
}

// Closed and reopened, a store knows what is done (with a filter's labels)
// and a resumed run that writes the rest duplicates nothing.
func TestResume(t *testing.T) {
	st, path := newStore(t)
	setStages(t, st, "type=1", "values=1")
	write(t, st,
		Result{Conv: conv(1), Stage: "type", Items: []Annotation{{Field: "response_type", Value: "mild resistance", IsLabel: true}}},
		Result{Conv: conv(1), Stage: "values", Items: items(2)},
		Result{Conv: conv(2), Stage: "type", Err: "plugin crashed"},
	)
	st.Close()

	st = open(t, path)
	if inv := setStages(t, st, "type=1", "values=1"); len(inv) != 0 {
		t.Fatalf("reopened: invalidated %v", inv)
	}
	done, err := st.LoadDone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Done{
		1: {"type": {OK: true, Labels: []string{"mild resistance"}}, "values": {OK: true}},
		2: {"type": {OK: false}},
	}
	if !reflect.DeepEqual(done, want) {
		t.Fatalf("done %+v\nwant %+v", done, want)
	}
	// The rest: conversation 2 redone after its error is cleared, 3 new.
	if n, err := st.ClearErrors(ctx); err != nil || n != 1 {
		t.Fatalf("cleared %d %v", n, err)
	}
	write(t, st,
		Result{Conv: conv(2), Stage: "type", Items: []Annotation{{Field: "response_type", Value: "support", IsLabel: true}}},
		Result{Conv: conv(2), Stage: "values", Items: items(1)},
		Result{Conv: conv(3), Stage: "type"},
	)
	c, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Conversations != 3 || c.Annotations != 5 || c.Total() != 0 {
		t.Fatalf("after resuming: %+v", c)
	}
	sn := snap(t, st)
	var ids []string
	for _, cv := range collect(t, sn.Conversations()) {
		if cv != conv(cv.Seq) {
			t.Errorf("conversation %+v, want %+v", cv, conv(cv.Seq))
		}
		ids = append(ids, cv.ID)
	}
	if !reflect.DeepEqual(ids, []string{"c1", "c2", "c3"}) {
		t.Fatalf("conversations %v", ids)
	}
	for _, cv := range collect(t, sn.ConversationsWithoutHash()) {
		if want := conv(cv.Seq); cv.ContentSHA != "" || cv.ID != want.ID || cv.Source != want.Source || cv.MetaJSON != want.MetaJSON {
			t.Errorf("conversation without hash %+v", cv)
		}
	}
	var got []string
	for _, a := range collect(t, sn.Annotations()) {
		got = append(got, fmt.Sprintf("%d/%s/%d/%s/%s/%t", a.Seq, a.Stage, a.Ord, a.Value, a.AttrsJSON, a.IsLabel))
	}
	wantAnns := []string{
		"1/type/0/mild resistance//true", `1/values/0/v0/{"i":0}/false`, `1/values/1/v1/{"i":1}/false`,
		"2/type/0/support//true", `2/values/0/v0/{"i":0}/false`,
	}
	if !reflect.DeepEqual(got, wantAnns) {
		t.Fatalf("annotations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantAnns, "\n"))
	}
}

// Reset forgets the run but keeps the model cache and the batches in flight.
func TestReset(t *testing.T) {
	st, path := newStore(t)
	setStages(t, st, "values=1")
	write(t, st, Result{Conv: conv(1), Stage: "values", Items: items(2)})
	if err := st.AddBadRecords(ctx, []BadRecord{{File: "f", Record: 1, Line: 1, Reason: "bad"}}); err != nil {
		t.Fatal(err)
	}
	st.SetMeta("dataset", "x")
	if err := st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k", Response: []byte("answer")}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddModelBatch(ctx, ModelBatch{ID: "b1", Endpoint: "e", Keys: []string{"k"}, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Conversations != 0 || c.Annotations != 0 || c.BadRecords != 0 || len(pairs(t, st)) != 0 {
		t.Fatalf("after reset: %+v", c)
	}
	if stages, _ := snap(t, st).Stages(); len(stages) != 0 {
		t.Fatalf("stages kept: %v", stages)
	}
	if v, _ := st.Meta("dataset"); v != "" {
		t.Fatalf("meta kept: %q", v)
	}
	if b, ok, err := st.CachedModelResponse(ctx, "k"); err != nil || !ok || string(b) != "answer" {
		t.Fatalf("cache after reset: %q %v %v", b, ok, err)
	}
	if bs, err := st.ModelBatches(ctx, "e"); err != nil || len(bs) != 1 {
		t.Fatalf("batches after reset: %v %v", bs, err)
	}
	st.Close()
	open(t, path) // the schema version is kept
}

// Snapshots taken while a writer commits see whole results only: never an
// annotation without its result, never part of a result's annotations, and
// each query of one snapshot sees the same instant as the others.
func TestSnapshotsDuringWrites(t *testing.T) {
	st, _ := newStore(t)
	setStages(t, st, "values=1")
	const batches, perBatch, perResult = 60, 5, 4
	var written atomic.Int64
	var snapshots atomic.Int64
	var failed atomic.Bool // a reader stopped on an error: do not wait for it
	writerDone := make(chan error, 1)
	go func() {
		seq := int64(0)
		for b := range batches {
			// The last batch waits for three snapshots, so that they are
			// taken during the writes however busy the machine is.
			for b == batches-1 && snapshots.Load() < 3 && !failed.Load() {
				runtime.Gosched()
			}
			var batch []Result
			for range perBatch {
				batch = append(batch, Result{Conv: conv(seq), Stage: "values", Items: items(perResult)})
				seq++
			}
			if err := st.Write(ctx, batch); err != nil {
				writerDone <- err
				return
			}
			written.Store(seq)
		}
		writerDone <- nil
	}()

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := checkSnapshot(st, perResult, &last); err != nil {
					failed.Store(true)
					errs <- err
					return
				}
				snapshots.Add(1)
			}
		})
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One last snapshot sees everything.
	last := 0
	if err := checkSnapshot(st, perResult, &last); err != nil || last != batches*perBatch {
		t.Fatalf("final snapshot: %d results, %v", last, err)
	}
	if snapshots.Load() < 3 {
		t.Fatalf("only %d snapshots during the writes", snapshots.Load())
	}
}

// checkSnapshot reads one snapshot: the results first, then (after letting
// the writer go on) the conversations and annotations, which must be those
// of exactly the same results. last is the number of results the previous
// snapshot saw, which can only grow.
func checkSnapshot(st *Store, perResult int, last *int) error {
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer sn.Close()
	done := map[int64]bool{}
	for r, err := range sn.Results().All() {
		if err != nil {
			return err
		}
		done[r.Seq] = true
	}
	if len(done) < *last {
		return fmt.Errorf("a later snapshot saw %d results, an earlier one %d", len(done), *last)
	}
	*last = len(done)
	time.Sleep(time.Millisecond) // the writer commits meanwhile
	n := 0
	for c, err := range sn.Conversations().All() {
		if err != nil {
			return err
		}
		if !done[c.Seq] {
			return fmt.Errorf("conversation %d without its result", c.Seq)
		}
		n++
	}
	if n != len(done) {
		return fmt.Errorf("%d conversations, %d results", n, len(done))
	}
	per := map[int64]int{}
	for a, err := range sn.Annotations().All() {
		if err != nil {
			return err
		}
		if !done[a.Seq] {
			return fmt.Errorf("an annotation of conversation %d without its result", a.Seq)
		}
		per[a.Seq]++
	}
	for seq := range done {
		if per[seq] != perResult {
			return fmt.Errorf("conversation %d: %d annotations of %d", seq, per[seq], perResult)
		}
	}
	return nil
}

func TestSnapshotReads(t *testing.T) {
	st, _ := newStore(t)
	setStages(t, st, "type=1", "values=1")
	write(t, st,
		Result{Conv: conv(2), Stage: "values", Err: "v2 failed"},
		Result{Conv: conv(2), Stage: "type", Err: "t2 failed"},
		Result{Conv: conv(1), Stage: "values", Items: []Annotation{{Field: "ai_values", Value: "b"}, {Field: "ai_values", Value: "a"}}},
		Result{Conv: conv(1), Stage: "type", Items: []Annotation{{Field: "response_type", Value: "support", IsLabel: true}}},
		Result{Conv: conv(3), Stage: "values", Items: []Annotation{{Field: "ai_values", Value: "a"}}},
	)
	if err := st.AddBadRecords(ctx, []BadRecord{{File: "b", Record: 2, Line: 3, Reason: "x"}, {File: "a", Record: 9, Line: 9, Reason: "y"}}); err != nil {
		t.Fatal(err)
	}
	// Idempotent: read again on resume, not counted twice.
	if err := st.AddBadRecords(ctx, []BadRecord{{File: "a", Record: 9, Line: 9, Reason: "y"}}); err != nil {
		t.Fatal(err)
	}
	sn := snap(t, st)

	// Annotations: by seq, then stage position (type before values), then order.
	var anns []string
	for _, a := range collect(t, sn.Annotations()) {
		anns = append(anns, fmt.Sprintf("%d/%s/%s", a.Seq, a.Stage, a.Value))
	}
	if want := []string{"1/type/support", "1/values/b", "1/values/a", "3/values/a"}; !reflect.DeepEqual(anns, want) {
		t.Errorf("annotations %v", anns)
	}
	// Errors: by seq, then stage position, with the conversation's id.
	errs := collect(t, sn.Errors())
	if want := []StageError{{2, "c2", "data.jsonl", "type", "t2 failed"}, {2, "c2", "data.jsonl", "values", "v2 failed"}}; !reflect.DeepEqual(errs, want) {
		t.Errorf("errors %+v", errs)
	}
	// Results in seq order, failed for conversation 2.
	var seqs []int64
	for _, r := range collect(t, sn.Results()) {
		seqs = append(seqs, r.Seq)
		if r.OK != (r.Seq != 2) {
			t.Errorf("result %+v", r)
		}
	}
	if !slices.IsSorted(seqs) || len(seqs) != 5 {
		t.Errorf("results' seqs %v", seqs)
	}
	bad := collect(t, sn.BadRecords())
	if want := []BadRecord{{"a", 9, 9, "y", ""}, {"b", 2, 3, "x", ""}}; !reflect.DeepEqual(bad, want) {
		t.Errorf("bad records %+v", bad)
	}
	vals := collect(t, sn.FieldValues("ai_values"))
	if want := []ValueCount{{"a", 2}, {"b", 1}}; !reflect.DeepEqual(vals, want) {
		t.Errorf("values %+v", vals)
	}
	if vals := collect(t, sn.FieldValues("nothing")); len(vals) != 0 {
		t.Errorf("values of no field %+v", vals)
	}

	// Stopping a range early closes the cursor; Next after the end is false.
	rows := sn.Conversations()
	for range rows.All() {
		break
	}
	if rows.Next() {
		t.Error("rows go on after the range stopped")
	}
	// A query that cannot run reports its error.
	sn.Close()
	rows = sn.Conversations()
	if rows.Next() || rows.Err() == nil {
		t.Error("no error from a closed snapshot")
	}
	for _, err := range sn.Annotations().All() {
		if err == nil {
			t.Error("a row from a closed snapshot")
		}
	}
}

// The model cache: a miss, then the first answer stored for a key is kept
// (a replay must see what the first run saw), across reopening.
func TestModelCache(t *testing.T) {
	st, path := newStore(t)
	if _, ok, err := st.CachedModelResponse(ctx, "k1"); ok || err != nil {
		t.Fatalf("hit in an empty cache: %v", err)
	}
	if err := st.CacheModelResponses(ctx, []ModelCacheEntry{{"k1", []byte("first")}, {"k2", []byte("two")}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CacheModelResponses(ctx, []ModelCacheEntry{{"k1", []byte("second")}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CacheModelResponses(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, path)
	if b, ok, err := st.CachedModelResponse(ctx, "k1"); !ok || err != nil || string(b) != "first" {
		t.Fatalf("k1: %q %v %v", b, ok, err)
	}
	if n, err := st.ModelCacheSize(ctx); n != 2 || err != nil {
		t.Fatalf("size %d %v", n, err)
	}

	// Batches in flight: oldest first, per endpoint, added once, removed.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, b := range []ModelBatch{
		{ID: "late", Endpoint: "e", Keys: []string{"k3"}, Created: t0.Add(time.Hour)},
		{ID: "early", Endpoint: "e", Keys: []string{"k1", "k2"}, Created: t0},
		{ID: "early", Endpoint: "e", Keys: []string{"other"}, Created: t0},
		{ID: "elsewhere", Endpoint: "f", Keys: []string{"k4"}, Created: t0},
	} {
		if err := st.AddModelBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := st.ModelBatches(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelBatch{{"early", "e", []string{"k1", "k2"}, t0}, {"late", "e", []string{"k3"}, t0.Add(time.Hour)}}
	if !reflect.DeepEqual(bs, want) {
		t.Fatalf("batches %+v", bs)
	}
	if err := st.RemoveModelBatch(ctx, "early"); err != nil {
		t.Fatal(err)
	}
	if bs, _ := st.ModelBatches(ctx, "e"); len(bs) != 1 || bs[0].ID != "late" {
		t.Fatalf("after removing: %+v", bs)
	}
}
