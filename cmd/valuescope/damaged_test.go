package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damagedShards is host/dataset's folder of good shards with a truncated
// .jsonl.gz, a truncated .jsonl.zst, a Parquet file with a corrupt page and
// one without its footer among them.
func damagedShards(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "host", "dataset", "testdata", "damaged"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// A run over a folder with damaged shards among good ones runs to the end,
// keeps what the damaged files held before the damage, and says what it set
// aside: in its summary line, errors.csv and the manifest.
func TestRunDamagedShards(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "damaged.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[dataset]
paths = [%q]
[[stages]]
name = "response-type"
plugin = "builtin:response-type"
`, damagedShards(t))), 0o644)
	out := filepath.Join(dir, "run")
	code, stdout, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, cfg)
	// 20 + 18 + 9 demo conversations, 14 of the 20 WildChat rows, 10 more demo.
	if code != 0 || !strings.Contains(stdout, "71 conversations") || !strings.Contains(stdout, "4 bad records") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	rows := readCSV(t, filepath.Join(out, "errors.csv"))
	var bad []string
	for _, r := range rows[1:] {
		line := strings.Join(r, ",")
		if strings.Contains(line, "set aside") {
			bad = append(bad, line)
		}
	}
	if len(bad) != 4 {
		t.Fatalf("errors.csv has %d damaged-file rows, want 4:\n%v", len(bad), rows)
	}
	for i, name := range []string{"2-truncated.jsonl.gz", "3-truncated.jsonl.zst", "4-damaged-page.parquet", "5-no-footer.parquet"} {
		if !strings.Contains(bad[i], name) {
			t.Errorf("errors.csv row %d does not name %s: %s", i, name, bad[i])
		}
	}
	manifest, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), `"bad_records": 4`) {
		t.Errorf("manifest does not count the 4 bad records:\n%s", manifest)
	}
}

// datasets inspect on the same folder reports each damaged file instead of
// failing.
func TestInspectDamagedShards(t *testing.T) {
	code, stdout, errs := valuescope(t, "datasets", "inspect", damagedShards(t))
	if code != 0 || !strings.Contains(stdout, "conversations: 71") || !strings.Contains(stdout, "bad records: 4") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, name := range []string{"2-truncated.jsonl.gz", "3-truncated.jsonl.zst", "4-damaged-page.parquet", "5-no-footer.parquet"} {
		if !strings.Contains(stdout, name+": damaged: ") {
			t.Errorf("inspect does not say %s is damaged:\n%s", name, stdout)
		}
	}
}
