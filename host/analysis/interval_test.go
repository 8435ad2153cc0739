package analysis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
)

// Wilson equals prop.test(correct = FALSE)'s interval; the two-proportion
// test equals prop.test's p-value; Newcombe's interval equals the formula
// composed in R from prop.test's Wilson intervals.
func TestIntervalsAgainstR(t *testing.T) {
	cases := [][4]float64{{0, 10, 3, 12}, {247, 250, 94, 100}, {5, 5, 0, 7}, {1, 200, 30, 180}, {50, 100, 50, 100}, {3, 1000, 9, 1200}}
	var b strings.Builder
	b.WriteString("options(warn = -1)\np17 <- function(key, v) cat(key, sprintf(\"%.17g\", v), \"\\n\")\n")
	for k, c := range cases {
		fmt.Fprintf(&b, `w1 <- prop.test(%[2]g, %[3]g, correct = FALSE)$conf.int; w2 <- prop.test(%[4]g, %[5]g, correct = FALSE)$conf.int
p1 <- %[2]g/%[3]g; p2 <- %[4]g/%[5]g; d <- p2 - p1
p17("w1.%[1]d", w1); p17("w2.%[1]d", w2)
p17("nc.%[1]d", c(d - sqrt((p2 - w2[1])^2 + (w1[2] - p1)^2), d + sqrt((w2[2] - p2)^2 + (p1 - w1[1])^2)))
p17("p.%[1]d", prop.test(c(%[2]g, %[4]g), c(%[3]g, %[5]g), correct = FALSE)$p.value)
`, k, c[0], c[1], c[2], c[3])
	}
	want := rNumbers(t, oracle.R(t, b.String()))
	for k, c := range cases {
		w1, w2 := Wilson(c[0], c[1], 0.95), Wilson(c[2], c[3], 0.95)
		nc := DiffInterval(c[0], c[1], c[2], c[3], 0.95)
		_, p := TwoProportionTest(c[0], c[1], c[2], c[3])
		check := func(name string, got []float64) {
			w := want[fmt.Sprintf("%s.%d", name, k)]
			for i := range got {
				if !closeTo(got[i], w[i], 1e-9) {
					t.Errorf("case %v %s: %v, R %v", c, name, got, w)
				}
			}
		}
		check("w1", []float64{float64(w1.Low), float64(w1.High)})
		check("w2", []float64{float64(w2.Low), float64(w2.High)})
		check("nc", []float64{float64(nc.Low), float64(nc.High)})
		if c[0]+c[2] > 0 && c[0]+c[2] < c[1]+c[3] {
			check("p", []float64{p})
		}
	}
	// The paper's value agreement: 98.8% of 250 judged.
	w := Wilson(247, 250, 0.95)
	if w.Low > 0.966 || w.Low < 0.965 || w.High < 0.995 || w.High > 0.997 {
		t.Errorf("Wilson(247, 250) = %+v", w)
	}
}
