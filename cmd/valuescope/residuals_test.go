package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
)

// The paper's setting: 3,307 values, alpha 0.05 two-sided, Bonferroni.
func TestResidualsPaperThreshold(t *testing.T) {
	code, out, errs := valuescope(t, "residuals", "--tests", "3307")
	if code != 0 || !strings.Contains(out, "|r| >= 4.33 ") || !strings.Contains(out, "4.326941") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	table := filepath.Join(t.TempDir(), "t.csv")
	os.WriteFile(table, []byte("value,a,b\nx,10,2\ny,3,9\nz,4,4\n"), 0o644)
	code, out, errs = valuescope(t, "residuals", table, "--tests", "3307")
	if code != 0 || !strings.Contains(out, "Bonferroni threshold |r| >= 4.33 (alpha 0.05 two-sided, 3307 stated tests per context)") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// The per-cell test is chosen as in analyze: the exact one by default.
	for method, want := range map[string]string{"": "per-cell test exact", "normal": "per-cell test normal"} {
		argv := []string{"residuals", table}
		if method != "" {
			argv = append(argv, "--method", method)
		}
		if code, out, errs := valuescope(t, argv...); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("--method %q: exit %d, want %q\n%s%s", method, code, want, out, errs)
		}
	}
	code, out, _ = valuescope(t, "residuals", "--tests", "3307", "--json")
	var j struct {
		BonferroniThreshold float64 `json:"bonferroni_threshold"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || math.Abs(j.BonferroniThreshold-4.326941) > 1e-6 {
		t.Fatalf("%d %s", code, out)
	}
}

func TestResidualsUsage(t *testing.T) {
	table := filepath.Join(t.TempDir(), "t.csv")
	os.WriteFile(table, []byte("value,a,b\nx,10,2\ny,-3,9\n"), 0o644)
	for _, c := range []struct {
		argv []string
		code int
		want string
	}{
		{[]string{"residuals"}, 2, "give a TABLE.csv"},
		{[]string{"residuals", table, "--correction", "sidak"}, 2, "unknown correction"},
		{[]string{"residuals", table, "--alpha", "2"}, 2, "--alpha"},
		{[]string{"residuals", table, "--method", "fisherman"}, 2, "fisherman"},
		{[]string{"residuals", table}, 1, "t.csv:3: row \"y\", column \"a\""},
		{[]string{"residuals", "/nonexistent.csv"}, 1, "no such file"},
	} {
		code, _, errs := valuescope(t, c.argv...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %s", c.argv, code, errs)
		}
	}
}

// The residuals --out writes equal R's chisq.test(x)$stdres to 1e-9, in the
// input's shape and labels, NA where R has NaN (an empty row and column).
func TestResidualsOutAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	dir := t.TempDir()
	table, out := filepath.Join(dir, "t.csv"), filepath.Join(dir, "r.csv")
	const R, C = 9, 6
	var b strings.Builder
	b.WriteString("value")
	for j := 0; j < C; j++ {
		fmt.Fprintf(&b, ",ctx %d", j)
	}
	b.WriteByte('\n')
	for i := 0; i < R; i++ {
		fmt.Fprintf(&b, "v%d", i)
		for j := 0; j < C; j++ {
			v := rng.IntN(40)
			if i == 4 || j == 2 || rng.IntN(4) == 0 {
				v = 0
			}
			fmt.Fprintf(&b, ",%d", v)
		}
		b.WriteByte('\n')
	}
	os.WriteFile(table, []byte(b.String()), 0o644)
	if code, stdout, errs := valuescope(t, "residuals", table, "--out", out); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	got, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	recs, err := csv.NewReader(got).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader, _ := csv.NewReader(strings.NewReader(b.String())).Read()
	if strings.Join(recs[0], ",") != strings.Join(wantHeader, ",") || len(recs) != R+1 {
		t.Fatalf("shape: %v, %d lines", recs[0], len(recs))
	}
	rOut := oracle.R(t, fmt.Sprintf(`options(warn = -1); x <- as.matrix(read.csv(%q, row.names = 1, check.names = FALSE)); cat(sprintf("%%.17g", chisq.test(x)$stdres), "\n")`, table))
	want := strings.Fields(rOut)
	if len(want) != R*C {
		t.Fatalf("R gave %d numbers", len(want))
	}
	for i := 0; i < R; i++ {
		if recs[i+1][0] != fmt.Sprintf("v%d", i) {
			t.Fatalf("row label %q", recs[i+1][0])
		}
		for j := 0; j < C; j++ {
			w, g := want[j*R+i], recs[i+1][j+1]
			if w == "NaN" {
				if g != "NA" {
					t.Fatalf("(%d,%d): %s, R NaN", i, j, g)
				}
				continue
			}
			wf, _ := strconv.ParseFloat(w, 64)
			gf, err := strconv.ParseFloat(g, 64)
			if err != nil || math.Abs(wf-gf) > 1e-9*math.Max(1, math.Abs(wf)) {
				t.Fatalf("(%d,%d): %s, R %s", i, j, g, w)
			}
		}
	}
}
