package analysis

import (
	"math"
	"strconv"
)

// Number is a float64 that JSON-encodes NaN and infinities as null (JSON
// has no NaN), and other values in their shortest exact form.
type Number float64

// MarshalJSON writes null for NaN and ±Inf.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Number(f)
	return err
}
