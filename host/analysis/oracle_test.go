package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// close reports whether got equals want to tol, relative to |want| when it is
// over 1; NaN equals NaN.
func closeTo(got, want, tol float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// rNumbers parses R's output lines "key v1 v2 ..." (numbers printed with
// sprintf("%.17g"), NaN and NA as NaN) into a map.
func rNumbers(t *testing.T, out string) map[string][]float64 {
	t.Helper()
	m := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var vs []float64
		for _, s := range f[1:] {
			if s == "NA" || s == "NaN" {
				vs = append(vs, math.NaN())
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("R output %q: %v", line, err)
			}
			vs = append(vs, v)
		}
		m[f[0]] = vs
	}
	return m
}

func rVector(v []float64) string {
	var b strings.Builder
	b.WriteString("c(")
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		if math.IsNaN(x) {
			b.WriteString("NaN")
		} else {
			fmt.Fprintf(&b, "%.17g", x)
		}
	}
	b.WriteString(")")
	return b.String()
}
