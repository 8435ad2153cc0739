package store

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// roMount makes dir visible read-only at a new path (a bind mount), as a
// cluster's read-only volume is; the test is skipped where it cannot mount
// (not root, no mount namespace rights).
func roMount(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a folder read-only")
	}
	ro := t.TempDir()
	if out, err := exec.Command("mount", "--bind", dir, ro).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", ro).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, out)
	}
	if f, err := os.Create(filepath.Join(ro, "probe")); err == nil {
		f.Close()
		t.Skip("the read-only mount accepts writes")
	}
	return ro
}

// A store closed cleanly reads from a read-only volume (a merged run given
// to --cache-from, shards merged from where they were written): SQLite
// cannot make the -shm file it reads WAL databases through there.
func TestReadOnlyVolume(t *testing.T) {
	dir := t.TempDir()
	st := open(t, filepath.Join(dir, "store.sqlite"))
	setStages(t, st, "values=1")
	write(t, st, Result{Conv: conv(1), Stage: "values", Items: items(3)})
	if err := st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k", Response: []byte("answer")}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro := roMount(t, dir)
	got, err := OpenReadOnly(filepath.Join(ro, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if c, err := got.Count(ctx); err != nil || c.Conversations != 1 || c.Annotations != 3 {
		t.Fatalf("count: %+v %v", c, err)
	}
	if b, ok, err := got.CachedModelResponse(ctx, "k"); err != nil || !ok || string(b) != "answer" {
		t.Fatalf("cached answer: %q %v %v", b, ok, err)
	}
	merged := open(t, filepath.Join(t.TempDir(), "merged.sqlite"))
	if n, err := merged.Merge(ctx, filepath.Join(ro, "store.sqlite")); err != nil || n.Conversations != 1 || n.ModelAnswers != 1 {
		t.Fatalf("merging from a read-only volume: %+v %v", n, err)
	}
}

// Folder names with the characters that delimit an SQLite URI open the
// store inside them, not a file named by the part before.
func TestURICharactersInPaths(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"q#1", "q?1", "q%252", "q%"} {
		dir := filepath.Join(root, name)
		os.Mkdir(dir, 0o755)
		st := open(t, filepath.Join(dir, "store.sqlite"))
		write(t, st, Result{Conv: conv(1), Stage: "values"})
		st.Close()
		if _, err := os.Stat(filepath.Join(dir, "store.sqlite")); err != nil {
			t.Fatalf("%s: the store is not in its folder: %v", name, err)
		}
		ro, err := OpenReadOnly(filepath.Join(dir, "store.sqlite"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ro.Close()
		merged := open(t, filepath.Join(t.TempDir(), "m.sqlite"))
		if _, err := merged.Merge(ctx, filepath.Join(dir, "store.sqlite")); err != nil {
			t.Fatalf("%s: merge: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 4 {
		t.Fatalf("files made beside the folders: %v", entries)
	}
}
