package modelplugin

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// Transcript renders a conversation for {{conversation}} (see the package
// documentation). maxChars <= 0 means no limit.
func Transcript(c *protocol.Conversation, maxChars int, includeSystem bool) string {
	type turn struct {
		label, text string
		n, keep     int // characters in text, characters kept
	}
	turns := make([]turn, 0, len(c.Turns))
	total := 0
	for _, t := range c.Turns {
		role := strings.ToLower(strings.TrimSpace(t.Role))
		if role == "system" && !includeSystem {
			continue
		}
		text := strings.TrimSpace(strings.ToValidUTF8(t.Content, "\uFFFD"))
		if text == "" {
			continue
		}
		n := utf8.RuneCountInString(text)
		turns = append(turns, turn{label: roleLabel(role), text: text, n: n, keep: n})
		total += n
	}
	if maxChars > 0 && total > maxChars {
		// Water-filling: shortest turns first, each gets at most an equal
		// share of what is left.
		order := make([]int, len(turns))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return turns[order[a]].n < turns[order[b]].n })
		left := maxChars
		for k, i := range order {
			share := min(left/(len(order)-k), turns[i].n)
			turns[i].keep = share
			left -= share
		}
	}
	var b strings.Builder
	size := 0
	for _, t := range turns {
		size += len(t.label) + 4 + len(t.text)
	}
	b.Grow(size)
	for i, t := range turns {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t.label)
		b.WriteString(": ")
		if t.keep >= t.n {
			b.WriteString(t.text)
			continue
		}
		head := t.keep - t.keep/2
		tail := t.keep / 2
		b.WriteString(strings.TrimRight(t.text[:runeOffset(t.text, head)], " \t\n"))
		fmt.Fprintf(&b, "\n[… %d characters omitted …]\n", t.n-t.keep)
		b.WriteString(strings.TrimLeft(t.text[runeOffset(t.text, t.n-tail):], " \t\n"))
	}
	return b.String()
}

// runeOffset is the byte offset of the n-th character of s.
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

func roleLabel(role string) string {
	switch role {
	case "user":
		return "User"
	case "assistant":
		return "Assistant"
	case "system":
		return "System"
	case "tool":
		return "Tool"
	case "":
		return "Unknown"
	}
	r, n := utf8.DecodeRuneInString(role)
	return strings.ToUpper(string(r)) + role[n:]
}

// HasText reports whether any turn of the role ("" for any role) has text.
func HasText(c *protocol.Conversation, role string) bool {
	for _, t := range c.Turns {
		if (role == "" || strings.EqualFold(strings.TrimSpace(t.Role), role)) && strings.TrimSpace(t.Content) != "" {
			return true
		}
	}
	return false
}
