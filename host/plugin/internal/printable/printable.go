// Package printable makes what a plugin says safe to show.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s cut to at most n bytes (at a character boundary, with
// "… (N bytes)" after it when cut; n ≤ 0: not cut) and made safe to print: control
// characters (C0, DEL, C1: a terminal obeys escape codes), Unicode
// formatting characters (a right-to-left override or a zero-width space
// makes text lie about what it says) and invalid UTF-8 are shown escaped,
// as Go writes them (\x1b, \u202e, \xff), new lines and tabs too, so that
// the result is one line. Whatever a plugin says goes through it before it
// reaches a terminal, a log or a report: the error messages stored for its
// conversations, the lines of RUN/plugins.log, the conformance kit's report.
func String(s string, n int) string {
	cut := ""
	if n > 0 && len(s) > n {
		end := n
		for end > 0 && end > n-utf8.UTFMax && !utf8.RuneStart(s[end]) {
			end--
		}
		cut = fmt.Sprintf("… (%d bytes)", len(s))
		s = s[:end]
	}
	if isPrintable(s) {
		return s + cut
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String() + cut
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
