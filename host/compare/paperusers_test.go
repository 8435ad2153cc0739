package compare_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/internal/oracle"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// A run that names users: its intervals take users as the sample's
// clusters, each with all of their conversations, as R's
// svyratio(design = svydesign(ids = ~user)) — the clusters' shares of
// occurrences and the values' shares of conversations with a value.
func TestComparePaperUsers(t *testing.T) {
	p, err := compare.ReadPaper(shareddata.Path(t, "values-in-the-wild"))
	if err != nil {
		t.Fatal(err)
	}
	// 300 conversations of 41 users; a user's conversations lean to the
	// same values (so clustering matters); every seventh has none.
	names := []string{"helpfulness", "professionalism", "transparency", "clarity", "thoroughness", "honesty", "respect for autonomy", "harm prevention", "user wellbeing", "accuracy", "empathy", "creativity"}
	var convs []analysistest.Conv
	seed := uint32(7)
	rnd := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % n }
	for k := range 300 {
		u := k % 41
		c := analysistest.Conv{ID: fmt.Sprintf("c%03d", k), Text: fmt.Sprint("question ", k), Meta: map[string]any{"user_id": fmt.Sprint("u", u)}, Label: "neutral"}
		if k%7 != 0 {
			seen := map[string]bool{}
			for range 1 + rnd(4) {
				v := names[(u+rnd(4))%len(names)]
				if !seen[v] {
					seen[v] = true
					c.Values = append(c.Values, v)
				}
			}
		}
		convs = append(convs, c)
	}
	dir := t.TempDir()
	analysistest.Write(t, dir, convs)
	rep, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Clusters != "user_id" || rep.WithValues != 300-43 {
		t.Fatalf("clusters %q, %d with values", rep.Clusters, rep.WithValues)
	}
	// Per conversation: user, tree values (x), those under each shown
	// top-level cluster (y), has a value (h), and each listed value (v).
	top := rep.Levels[0]
	var b strings.Builder
	b.WriteString("user,x,h")
	var ids []string
	for _, n := range top.Nodes {
		if n.Shown {
			ids = append(ids, n.ID)
			fmt.Fprintf(&b, ",y%d", len(ids))
		}
	}
	for k := range rep.Values {
		fmt.Fprintf(&b, ",v%d", k+1)
	}
	b.WriteString("\n")
	for _, c := range convs {
		leaves := map[string]bool{}
		has := map[string]bool{}
		for _, v := range c.Values {
			leaves[v] = true // each name is a tree value's
			has[v] = true
		}
		h := 0
		if len(c.Values) > 0 {
			h = 1
		}
		fmt.Fprintf(&b, "%s,%d,%d", c.Meta["user_id"], len(leaves), h)
		for _, id := range ids {
			n := 0
			for l := range leaves {
				if p.Tree.Ancestor(l, top.Level) == id {
					n++
				}
			}
			fmt.Fprintf(&b, ",%d", n)
		}
		for _, v := range rep.Values {
			x := 0
			if has[v.Value] {
				x = 1
			}
			fmt.Fprintf(&b, ",%d", x)
		}
		b.WriteString("\n")
	}
	data := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := oracle.R(t, fmt.Sprintf(`suppressMessages(library(survey))
d <- read.csv(%q)
des <- svydesign(ids = ~user, data = d)
one <- function(y, x) {
  r <- svyratio(as.formula(paste0("~", y)), as.formula(paste0("~", x)), des)
  ci <- confint(r)
  cat(sprintf("%%.15g %%.15g %%.15g\n", coef(r), ci[1], ci[2]))
}
for (k in 1:%d) one(paste0("y", k), "x")
for (k in 1:%d) one(paste0("v", k), "h")`, data, len(ids), len(rep.Values)))
	f := strings.Fields(out)
	if len(f) != 3*(len(ids)+len(rep.Values)) {
		t.Fatalf("R said %q", out)
	}
	var got [][3]float64
	for _, n := range top.Nodes {
		if n.Shown {
			got = append(got, [3]float64{float64(n.Share), float64(n.CI.Low), float64(n.CI.High)})
		}
	}
	for _, v := range rep.Values {
		got = append(got, [3]float64{float64(v.Share), float64(v.CI.Low), float64(v.CI.High)})
	}
	for k, g := range got {
		for j := range 3 {
			w, _ := strconv.ParseFloat(f[3*k+j], 64)
			if math.Abs(g[j]-math.Max(0, math.Min(1, w))) > 1e-9 {
				t.Errorf("row %d (%d): %v, R's svyratio with ids = ~user %v", k, j, g[j], w)
			}
		}
	}
	t.Logf("%d clusters and %d values checked against svyratio(ids = ~user)", len(ids), len(rep.Values))
}
