package modelplugin

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// MaxNameBytes is the host's bound on an item name.
const MaxNameBytes = protocol.MaxItemNameBytes

// Patterns of personal data: what a name must not contain and what evidence
// has redacted.
var (
	reEmail  = regexp.MustCompile(`[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+`)
	reURL    = regexp.MustCompile(`(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+`)
	reDomain = regexp.MustCompile(`(?i)\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|ai|co|uk|de|fr|info|app|dev|me|ly|tv)\b`)
	reHandle = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_])@[\p{L}\p{N}_.]{2,}`)
	rePhone  = regexp.MustCompile(`\+?\d(?:[\s().-]{0,2}\d){6,}`)
)

// NormalizeName turns a model's name for a value (or task) into its
// canonical form: lower case; underscores read as spaces; white space
// collapsed to single spaces; punctuation and symbols trimmed from both
// ends (so "Honesty." and "- honesty" are "honesty"; hyphens and
// apostrophes inside stay: "self-determination"); control characters read
// as spaces and invisible formatting characters (a zero-width space, a
// right-to-left override) dropped, so that the name passes the host's rule
// (protocol.CheckItemName) rather than failing the conversation. ok is false, and the name
// must be dropped, when the result is empty, longer than maxRunes characters
// or MaxNameBytes bytes, has no letter (digits only, say), or looks like
// personal data: an e-mail address, a URL or web domain, an @handle, or a
// phone number (7 or more digits).
func NormalizeName(s string, maxRunes int) (name string, ok bool) {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '_' || unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if PersonalData(s) {
		return "", false
	}
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r) })
	switch {
	case s == "", len(s) > MaxNameBytes, utf8.RuneCountInString(s) > maxRunes:
		return "", false
	case strings.IndexFunc(s, unicode.IsLetter) < 0:
		return "", false
	}
	return s, true
}

// PersonalData reports whether s contains an e-mail address, a URL or web
// domain, an @handle or a phone number.
func PersonalData(s string) bool {
	return reEmail.MatchString(s) || reURL.MatchString(s) || reDomain.MatchString(s) ||
		reHandle.MatchString(s) || rePhone.MatchString(s)
}

// Redacted is what Evidence puts in place of personal data.
const Redacted = "[redacted]"

// Evidence makes a model's quote fit to store: invalid UTF-8 dropped, white
// space collapsed, e-mail addresses, URLs, @handles and phone numbers
// replaced by "[redacted]", and cut to maxRunes characters (with "…").
func Evidence(s string, maxRunes int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	for _, re := range []*regexp.Regexp{reEmail, reURL, reHandle, rePhone} {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			// reHandle includes the character before the "@".
			if i := strings.IndexByte(m, '@'); re == reHandle && i > 0 {
				return m[:i] + Redacted
			}
			return Redacted
		})
	}
	if maxRunes > 0 && utf8.RuneCountInString(s) > maxRunes {
		r := []rune(s)
		cut := string(r[:maxRunes-1])
		// Cut at a word boundary when one is not too far back.
		if r[maxRunes-1] != ' ' {
			if i := strings.LastIndexByte(cut, ' '); i >= len(cut)/2 {
				cut = cut[:i]
			}
		}
		s = strings.TrimRight(cut, " ") + "…"
	}
	return s
}
