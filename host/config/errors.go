package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a config file.
type Error struct {
	// File is the config path as given to Load.
	File string
	// Line is 1-based; 0 when the problem has no line of its own (a required
	// section that is missing altogether).
	Line int
	// Key is the dotted key, with 0-based indices for arrays:
	// "stages[1].model", "dataset.paths[0]". Empty for syntax errors.
	Key string
	// Msg says what is wrong and, where it helps, what was expected.
	Msg string
}

// Error formats the problem as "file:line: key: msg", the form editors and
// terminals turn into a link.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, in file order.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
