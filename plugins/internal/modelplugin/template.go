package modelplugin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Placeholders every plugin knows.
const (
	PConversation = "conversation"
	PSchema       = "schema"
)

// splitMarker, on a line of its own, separates the system prompt (above)
// from the user message (below).
const splitMarker = "<!-- user -->"

// Template is a parsed prompt file.
type Template struct {
	system, user []segment
}

// segment is literal text, or a placeholder when name is set.
type segment struct {
	text, name string
}

// ParseTemplate parses a conversation plugin's prompt file. known lists the
// placeholders the plugin fills (besides conversation and schema); required
// those the prompt must use (conversation is always required).
func ParseTemplate(text string, known, required []string) (Template, error) {
	return ParsePrompt(text, append([]string{PConversation, PSchema}, known...), append([]string{PConversation}, required...))
}

// ParsePrompt parses a prompt file whose placeholders are exactly known
// (ParseTemplate adds {{conversation}} and {{schema}}; a plugin that reads
// no conversation, a namer, names its own); required lists those the
// prompt must use.
func ParsePrompt(text string, known, required []string) (Template, error) {
	var t Template
	text = strings.ReplaceAll(text, "\r\n", "\n")
	system, user, err := split(text)
	if err != nil {
		return t, err
	}
	if system, err = stripComments(system); err != nil {
		return t, err
	}
	if user, err = stripComments(user); err != nil {
		return t, err
	}
	system, user = strings.TrimSpace(system), strings.TrimSpace(user)
	if user == "" {
		return t, errors.New("prompt: the user message is empty (below the \"<!-- user -->\" line, or the whole file)")
	}
	var unknown []string
	used := map[string]bool{}
	t.system = segments(system, known, used, &unknown)
	t.user = segments(user, known, used, &unknown)
	if len(unknown) > 0 {
		return t, fmt.Errorf("prompt: unknown placeholder %s (this plugin knows %s)", strings.Join(unknown, ", "), braces(known))
	}
	var missing []string
	for _, r := range required {
		if !used[r] && !slices.Contains(missing, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("prompt: it must use %s", braces(missing))
	}
	return t, nil
}

func braces(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return strings.Join(out, ", ")
}

// split cuts text at the marker line, if there is one.
func split(text string) (system, user string, err error) {
	lines := strings.SplitAfter(text, "\n")
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == splitMarker {
			if at >= 0 {
				return "", "", errors.New(`prompt: more than one "<!-- user -->" line`)
			}
			at = i
		}
	}
	if at < 0 {
		return "", text, nil
	}
	return strings.Join(lines[:at], ""), strings.Join(lines[at+1:], ""), nil
}

func stripComments(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i+4:], "-->")
		if j < 0 {
			return "", errors.New("prompt: an HTML comment (\"<!--\") is not closed")
		}
		b.WriteString(s[:i])
		s = s[i+4+j+3:]
	}
}

// segments cuts s into literal text and placeholders.
func segments(s string, known []string, used map[string]bool, unknown *[]string) []segment {
	var out []segment
	lit := 0
	for i := 0; i < len(s); {
		name, n := placeholderAt(s[i:])
		if n == 0 {
			i++
			continue
		}
		if i > lit {
			out = append(out, segment{text: s[lit:i]})
		}
		if !slices.Contains(known, name) && !slices.Contains(*unknown, "{{"+name+"}}") {
			*unknown = append(*unknown, "{{"+name+"}}")
		}
		used[name] = true
		out = append(out, segment{name: name})
		i += n
		lit = i
	}
	if lit < len(s) {
		out = append(out, segment{text: s[lit:]})
	}
	return out
}

// placeholderAt reports the placeholder at the start of s and its length in
// bytes, or n = 0 when s does not start with one.
func placeholderAt(s string) (name string, n int) {
	if !strings.HasPrefix(s, "{{") {
		return "", 0
	}
	end := strings.Index(s, "}}")
	if end < 0 {
		return "", 0
	}
	inner := strings.TrimSpace(s[2:end])
	if !isIdent(inner) {
		return "", 0
	}
	return inner, end + 2
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Render fills the placeholders. A placeholder without a value renders as
// the empty string (ParseTemplate already refused unknown ones).
func (t Template) Render(vars map[string]string) (system, user string) {
	return render(t.system, vars), render(t.user, vars)
}

func render(segs []segment, vars map[string]string) string {
	var b strings.Builder
	for _, s := range segs {
		if s.name != "" {
			b.WriteString(vars[s.name])
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}
