package modelplugin

import (
	"fmt"
	"slices"
	"strings"
)

// LabelList renders labels for a {{labels}} placeholder: one per line,
// "- label", or "- label: description" when descriptions has one.
func LabelList(labels []string, descriptions map[string]string) string {
	var b strings.Builder
	for i, l := range labels {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("- " + l)
		if d := descriptions[l]; d != "" {
			b.WriteString(": " + d)
		}
	}
	return b.String()
}

// CheckLabel reports a label outside the allowed set, exactly spelled.
func CheckLabel(key, label string, allowed []string) error {
	if slices.Contains(allowed, label) {
		return nil
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Errorf("%q: %q is not one of %s (spell it exactly)", key, label, strings.Join(q, ", "))
}

// EnumJSON is the JSON array of labels, for a schema's "enum".
func EnumJSON(labels []string) string {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = jsonString(l)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
