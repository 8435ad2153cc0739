package wasmbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Two plugins share a helper package; a change in one plugin's own source
// changes its digest and leaves the other's alone, a change in the shared
// helper changes the digest of the one that imports it, and a test file
// changes nothing. This is what keeps a run's stages of one built-in valid
// when the shared module is rebuilt for a change in another.
func TestSourceDigestIsPerPlugin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("helper/helper.go", "package helper\n\nfunc N() int { return 1 }\n")
	write("a/a.go", "package a\n\nimport \"example.com/m/helper\"\n\nfunc A() int { return helper.N() }\n")
	write("b/b.go", "package b\n\nfunc B() int { return 2 }\n")
	digests := func() (a, b string) {
		t.Helper()
		var err error
		if a, err = SourceDigest(context.Background(), dir, "example.com/m", "./a"); err != nil {
			t.Fatal(err)
		}
		if b, err = SourceDigest(context.Background(), dir, "example.com/m", "./b"); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	a0, b0 := digests()
	if a0 == b0 {
		t.Fatal("two plugins, one digest")
	}
	write("b/b.go", "package b\n\nfunc B() int { return 3 }\n")
	a1, b1 := digests()
	if a1 != a0 || b1 == b0 {
		t.Fatalf("after changing b: a %v (want unchanged), b %v (want changed)", a1 == a0, b1 == b0)
	}
	write("helper/helper.go", "package helper\n\nfunc N() int { return 4 }\n")
	a2, b2 := digests()
	if a2 == a1 || b2 != b1 {
		t.Fatalf("after changing a's helper: a unchanged %v (want false), b unchanged %v (want true)", a2 == a1, b2 == b1)
	}
	write("a/a_test.go", "package a\n")
	if a3, _ := digests(); a3 != a2 {
		t.Fatal("a test file changed the digest")
	}
}
