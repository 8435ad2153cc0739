package grpc_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/host/runfolder"
)

// The fingerprint covers the files and folders a command names: editing a
// script changes it, rewriting the same content does not.
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "plugin.py")
	lib := filepath.Join(dir, "lib")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(script, "print('hello')\n")
	write(filepath.Join(lib, "sub", "helper.py"), "X = 1\n")
	prog, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := []string{prog, "-u", script, "--lib", lib, "not-a-file"}
	sum := func() string {
		t.Helper()
		s, err := grpc.Fingerprint(cmd)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := sum()
	write(script, "print('hello')\n")
	if again := sum(); again != first {
		t.Fatalf("same content, other fingerprint: %s, was %s", again, first)
	}
	write(script, "print('hello, edited')\n")
	edited := sum()
	if edited == first {
		t.Fatal("editing the script left the fingerprint as it was")
	}
	write(filepath.Join(lib, "sub", "helper.py"), "X = 2\n")
	if sum() == edited {
		t.Fatal("editing a file in a folder the command names left the fingerprint as it was")
	}
	// The program counts too: another program, other fingerprint.
	cmd[0] = "/bin/sh"
	if sum() == edited {
		t.Fatal("another program, same fingerprint")
	}
	if _, err := grpc.Fingerprint([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing program: no error")
	}
}

// What a run writes below a folder the command names, and hidden folders
// (.git), are not the plugin's code: `grpc:sh .` from a project whose runs/
// is inside must not be a changed plugin at every invocation.
func TestFingerprintLeavesOutRunsAndHidden(t *testing.T) {
	dir := t.TempDir()
	for path, content := range map[string]string{
		"plugin.sh":                          "echo hi\n",
		"runs/quick/" + runfolder.MarkerFile: "valuescope run folder\n",
		"runs/quick/plugins.log":             "one\n",
		".git/HEAD":                          "ref: a\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := []string{"/bin/sh", dir}
	first, err := grpc.Fingerprint(cmd)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "runs/quick/plugins.log"), []byte("one\ntwo\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".git/HEAD"), []byte("ref: b\n"), 0o644)
	if again, _ := grpc.Fingerprint(cmd); again != first {
		t.Fatal("a run's log or .git changed the fingerprint")
	}
	os.WriteFile(filepath.Join(dir, "plugin.sh"), []byte("echo edited\n"), 0o644)
	if edited, _ := grpc.Fingerprint(cmd); edited == first {
		t.Fatal("editing the plugin's script left the fingerprint as it was")
	}
}
