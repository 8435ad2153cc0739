package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The "done when": a dataset with duplicated IDs and truncated
// shards among good shards runs to the end, and says what it set aside —
// in one process, and in two shards merged (the same files, byte for
// byte). The folder is host/dataset's damaged shards with a seventh file:
// an exact copy of 1-good.jsonl's first conversation (set aside), another
// conversation under the ID of its second (another file: kept), an ID used
// twice in the file by different conversations (the second set aside) and
// two ID-less conversations with the same turns (the second set aside).
func TestRunDuplicatesAmongDamagedShards(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.CopyFS(data, os.DirFS(damagedShards(t))); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(data, "1-good.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	first := sc.Text()
	f.Close()
	lines := []string{
		first,
		`{"id": "demo-002", "messages": [{"role": "user", "content": "not demo-002's question"}, {"role": "assistant", "content": "I value honesty."}]}`,
		`{"id": "dup-x", "messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "I value honesty."}]}`,
		`{"id": "dup-x", "messages": [{"role": "user", "content": "two"}, {"role": "assistant", "content": "I value fairness."}]}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! How can I help you today?"}]}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! How can I help you today?"}]}`,
	}
	if err := os.WriteFile(filepath.Join(data, "7-duplicates.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dups.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[dataset]
paths = [%q]
[[stages]]
name = "response-type"
plugin = "builtin:response-type"
[[stages]]
name = "values"
plugin = "builtin:cue-values"
`, data)), 0o644)

	// 71 conversations the damaged shards give, and 3 of the new file's 6.
	whole := filepath.Join(dir, "whole")
	code, stdout, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", whole, cfg)
	if code != 0 || !strings.Contains(stdout, "74 conversations") || !strings.Contains(stdout, "7 bad records set aside (3 of them duplicate conversations") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	var dups, damaged []string
	for _, r := range readCSV(t, filepath.Join(whole, "errors.csv"))[1:] {
		line := strings.Join(r, ",")
		switch {
		case strings.Contains(line, "duplicate: "):
			dups = append(dups, line)
		case strings.Contains(line, "set aside"):
			damaged = append(damaged, line)
		}
	}
	d7 := filepath.Join(data, "7-duplicates.jsonl")
	want := []string{
		`,` + d7 + `,,1,1,duplicate: conversation "demo-001" has the same ID and turns as the one at ` + filepath.Join(data, "1-good.jsonl") + `:1`,
		`,` + d7 + `,,4,4,duplicate: conversation ID "dup-x" is already that of a different conversation in 7-duplicates.jsonl, at ` + d7 + `:3, which is kept`,
		`,` + d7 + `,,6,6,duplicate: conversation "`,
	}
	if len(dups) != 3 || len(damaged) != 4 {
		t.Fatalf("errors.csv: duplicates\n%s\ndamaged\n%s", strings.Join(dups, "\n"), strings.Join(damaged, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(dups[i], w) {
			t.Errorf("errors.csv row\n%s\nwant it to hold\n%s", dups[i], w)
		}
	}
	if !strings.Contains(dups[2], "as the one at "+d7+":5") {
		t.Errorf("the ID-less repeat does not name line 5: %s", dups[2])
	}
	manifest, err := os.ReadFile(filepath.Join(whole, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), `"bad_records": 7,`) || !strings.Contains(string(manifest), `"duplicates": 3`) {
		t.Errorf("manifest does not count the 7 records set aside and 3 duplicates:\n%s", manifest)
	}

	// Two shards, then merge: the same exports as the one process.
	var shards []string
	for i := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("shard%d", i))
		if code, stdout, errs := valuescope(t, "run", "--quiet", "--no-report", "--shard", fmt.Sprintf("%d/2", i), "--out", out, cfg); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s\n%s", i, code, stdout, errs)
		}
		shards = append(shards, out)
	}
	merged := filepath.Join(dir, "merged")
	code, stdout, errs = valuescope(t, append([]string{"merge", "--no-report", merged}, shards...)...)
	if code != 0 || !strings.Contains(stdout, "7 bad records set aside (3 of them duplicate conversations") {
		t.Fatalf("merge: exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, name := range []string{"annotations.csv", "conversations.csv", "errors.csv"} {
		a, errA := os.ReadFile(filepath.Join(whole, name))
		b, errB := os.ReadFile(filepath.Join(merged, name))
		if errA != nil || errB != nil || !slices.Equal(a, b) {
			t.Errorf("%s of the merged shards differs from the one run's (%v, %v)", name, errA, errB)
		}
	}
}
