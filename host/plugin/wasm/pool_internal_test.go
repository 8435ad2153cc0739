package wasm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// An instance the pool adds after Load starts under the start-up deadline
// too. The pool's module is swapped for one whose _initialize loops (no
// module can loop in its second instance only: instances share nothing),
// while Load's instance is kept busy so that Process must make a new one.
// Before, that Process hung for ever.
func TestPoolInstanceStartTimeout(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, testplugins.Wasm(t, "echo", ""), Options{
		Instances: 2, StartTimeout: 500 * time.Millisecond, Deadline: time.Minute,
		CacheDir: "off", Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	busy, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.put(busy)
	loop, err := os.ReadFile(filepath.Join("testdata", "initloop.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if p.compiled, err = p.rt.CompileModule(ctx, loop); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Process(ctx, &protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "c1"}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not start within 500ms") {
			t.Fatalf("Process: %v; want an error saying the new instance did not start within 500ms", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Process has not returned after 20s")
	}
}
