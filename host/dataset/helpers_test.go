package dataset

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/conversation"
)

func summarize(t testing.TB, paths []string, opts Options) *Summary {
	t.Helper()
	r, err := Open(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Summarize(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readAll reads every good conversation, failing on a fatal error.
func readAll(t testing.TB, path string, opts Options) []conversation.Conversation {
	t.Helper()
	r, err := Open([]string{path}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []conversation.Conversation
	for {
		c, err := r.Next()
		if err == io.EOF {
			return out
		}
		if IsBad(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *c)
	}
}

func next(t testing.TB, r *Reader) *conversation.Conversation {
	t.Helper()
	c, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeTemp(t testing.TB, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// equalJSON compares through JSON, where numbers are numbers whatever their Go type.
func equalJSON(t testing.TB, a, b any) bool {
	return mustJSON(t, a) == mustJSON(t, b)
}
