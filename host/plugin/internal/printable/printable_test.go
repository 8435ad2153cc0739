package printable

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode": "plain text, ünïcode",
		"\x1b[31mred":         `\x1b[31mred`,
		"bell\x07":            `bell\x07`,
		"a\nb\tc":             `a\nb\tc`,
		"bad \xff":            `bad \xff`,
		"c1 \u009b":           `c1 \x9b`,
		"rtl \u202e":          `rtl \u202e`,
		"zw \u200b":           `zw \u200b`,
		"del \x7f":            `del \x7f`,
	} {
		if got := String(in, 100); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if got := String(strings.Repeat("é", 100), 11); got != strings.Repeat("é", 5)+"… (200 bytes)" {
		t.Errorf("Printable cut to %q", got)
	}
	if long := strings.Repeat("a", 10000); String(long, 0) != long {
		t.Error("String(s, 0) cut s")
	}
}
