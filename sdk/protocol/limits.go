package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a plugin may answer (sdk/ABI.md, "Limits"). The host
// enforces them on every reply, from Wasm and gRPC plugins alike, and the
// conformance kit checks them: a reply over a limit fails its conversation
// as a protocol violation. They exist so that one faulty or hostile plugin
// cannot fill the disk or the host's memory: without them, 16 conversations
// with a 60 MB attribute made a 4.5 GB run folder.
const (
	// MaxReplyBytes bounds one encoded reply: of vs_process / Process, and
	// of describe and configure.
	MaxReplyBytes = 8 << 20
	// MaxItems bounds the items of one reply, over all its annotations.
	MaxItems = 1000
	// MaxItemNameBytes bounds an item name: values are short names, not
	// sentences.
	MaxItemNameBytes = 100
	// MaxAttrs bounds the attributes of one item.
	MaxAttrs = 32
	// MaxAttrKeyBytes bounds an attribute's key.
	MaxAttrKeyBytes = 64
	// MaxAttrValueBytes bounds an attribute's value: room for a quote or a
	// description, not for a document.
	MaxAttrValueBytes = 16 << 10
	// MaxErrorBytes bounds a reply's error message.
	MaxErrorBytes = 4 << 10
	// MaxLabelBytes bounds a label, in a reply and in a manifest's label set.
	MaxLabelBytes = 100
)

// CheckItemName returns an error saying why name is not a normalised item
// name, or nil when it is one. A normalised name is what a taxonomy can
// group: "epistemic humility", not " Epistemic  Humility." — 1 to
// MaxItemNameBytes bytes of valid UTF-8, lower case, words separated by
// single spaces, no leading or trailing space or sentence punctuation, no
// control or invisible formatting characters (a zero-width space or a
// right-to-left override would make two names that look alike differ, or
// make a report lie about what it shows). The host applies this rule to
// every item of every run, and the conformance kit applies the same rule.
func CheckItemName(name string) error { return checkName(name, true) }

// CheckDisplayName is CheckItemName but for upper case, which a namer's
// cluster names may have ("Intellectual clarity").
func CheckDisplayName(name string) error { return checkName(name, false) }

func checkName(name string, lower bool) error {
	if why := nameProblem(name, lower); why != "" {
		return fmt.Errorf("name %s %s", Quote(name, 60), why)
	}
	return nil
}

// nameProblem says what is wrong with name, or "".
func nameProblem(name string, lower bool) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > MaxItemNameBytes:
		return fmt.Sprintf("is %d bytes long, over %d: a value name is a few words, not a sentence", len(name), MaxItemNameBytes)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.TrimSpace(name) != name:
		return "has leading or trailing white space"
	case strings.Contains(name, "  "):
		return "has a run of spaces"
	case lower && strings.ToLower(name) != name:
		return "is not lower case"
	case strings.ContainsAny(name[len(name)-1:], ".,;:!?"):
		return "ends with punctuation"
	}
	for _, r := range name {
		switch {
		case r == ' ':
		case unicode.IsSpace(r):
			return fmt.Sprintf("has the white space %U: separate words with single spaces", r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("has the control or formatting character %U", r)
		}
	}
	return ""
}

// CheckError returns an error when msg, a plugin's error message (a reply's
// or a configuration refusal's), is over MaxErrorBytes, quoting only its
// beginning; nil otherwise.
func CheckError(msg string) error {
	if len(msg) > MaxErrorBytes {
		return fmt.Errorf("an error message of %d bytes, over the %d-byte limit (it began %s)", len(msg), MaxErrorBytes, Quote(msg, 60))
	}
	return nil
}

// Quote quotes s for an error message, cut to at most n bytes (at a
// character boundary, with "…" after it when cut), so that an error about a
// huge or hostile string neither grows with it nor carries its control
// characters.
func Quote(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
