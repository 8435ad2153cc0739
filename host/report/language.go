package report

import (
	"strings"
	"unicode"

	"golang.org/x/text/language"

	"github.com/valuescope/valuescope/host/conversation"
)

// Language is what the report knows of a conversation's language: from the
// dataset's metadata where it names one, else guessed from the script of
// the assistant's turns (all turns when there is none), code left out. A
// script says little of the language (Latin script is English, Spanish,
// Vietnamese...), so Code is set only when it is known.
type Language struct {
	// Label is what the report shows: the metadata's value, or a script.
	Label string
	// Code is the ISO 639-1 code when known ("": unknown).
	Code string
	// Latin: the text is mostly Latin letters (or the language is written
	// in them), so a plugin that reads English may read it.
	Latin bool
	// NoLetters: the turns read have no letters (numbers, code only):
	// no language, so no plugin's reach is measured on them.
	NoLetters bool
}

// MetaLanguage is the metadata key a dataset names a conversation's
// language with (WildChat and LMSYS-Chat-1M: "English", "Chinese"...).
const MetaLanguage = "language"

// languageCodes maps the language names datasets use to ISO 639-1 codes;
// latinCodes are those written in Latin letters.
var (
	languageCodes = map[string]string{
		"english": "en", "chinese": "zh", "spanish": "es", "french": "fr", "german": "de",
		"russian": "ru", "japanese": "ja", "korean": "ko", "portuguese": "pt", "italian": "it",
		"arabic": "ar", "dutch": "nl", "turkish": "tr", "polish": "pl", "vietnamese": "vi",
		"indonesian": "id", "persian": "fa", "hindi": "hi", "ukrainian": "uk",
	}
	latinCodes = map[string]bool{"en": true, "es": true, "fr": true, "de": true, "pt": true, "it": true,
		"nl": true, "tr": true, "pl": true, "vi": true, "id": true}
)

// metaLanguage reads a metadata language value: a name ("English") or a
// BCP 47 or ISO 639 code in any case and separator ("en", "en-US", "EN_us",
// "zh_CN", "zh-Hans", "eng", "zho"), its base language by
// golang.org/x/text/language.
func metaLanguage(v string) Language {
	k := strings.ToLower(strings.TrimSpace(v))
	code, ok := languageCodes[k]
	if !ok {
		if tag, err := language.Parse(strings.ReplaceAll(k, "_", "-")); err == nil {
			if b, conf := tag.Base(); conf != language.No {
				code = b.String()
			}
		}
	}
	return Language{Label: v, Code: code, Latin: latinCodes[code]}
}

// scripts are the writing systems the detector tells apart, with the label
// a conversation mostly in them gets. Weight is the Latin letters one of
// theirs stands for: Han, kana and Hangul write a syllable or a word with
// one letter where Latin takes several, so that a Chinese answer full of
// English terms and code still counts as Chinese.
var scripts = []struct {
	table  *unicode.RangeTable
	label  string
	code   string
	weight float64
}{
	{unicode.Han, "Chinese (Han script)", "zh", 3},
	{unicode.Hiragana, "Japanese (kana)", "ja", 3},
	{unicode.Katakana, "Japanese (kana)", "ja", 3},
	{unicode.Hangul, "Korean (Hangul)", "ko", 3},
	{unicode.Cyrillic, "Cyrillic script", "", 1},
	{unicode.Arabic, "Arabic script", "", 1},
	{unicode.Devanagari, "Devanagari script", "", 1},
	{unicode.Greek, "Greek script", "", 1},
	{unicode.Hebrew, "Hebrew script", "", 1},
	{unicode.Thai, "Thai script", "", 1},
}

// NonLatinShare is the weighted share of a conversation's letters outside
// the Latin script from which the detector calls it non-Latin; KanaShare
// the share of kana among Han and kana from which Han text is Japanese.
const (
	NonLatinShare = 0.25
	KanaShare     = 0.25
)

// detectScript guesses the language of a conversation from the letters of
// its assistant's turns — those the offline extractor reads for ai_values
// and the response-type classifier classifies (cue-values reads the
// user's for human_values, mostly in the same language) — or of all its
// turns when it has no assistant turn. Code (fenced blocks and inline
// spans) is left out: its keywords are Latin letters in any language.
func detectScript(c *conversation.Conversation) Language {
	weights := make([]float64, len(scripts))
	latin, other := 0.0, 0.0
	all := !c.HasRole(conversation.Assistant)
	for i := range c.Turns {
		if !all && c.Turns[i].Role != conversation.Assistant {
			continue
		}
		for _, r := range stripCode(c.Turns[i].Content) {
			if !unicode.IsLetter(r) {
				continue
			}
			if unicode.Is(unicode.Latin, r) {
				latin++
				continue
			}
			w := 1.0
			for k, s := range scripts {
				if unicode.Is(s.table, r) {
					w = s.weight
					weights[k] += w
					break
				}
			}
			other += w
		}
	}
	if latin+other == 0 {
		return Language{Label: "no letters", NoLetters: true}
	}
	if other < NonLatinShare*(latin+other) {
		return Language{Label: "Latin script", Latin: true}
	}
	best := -1
	for k := range scripts {
		if weights[k] > 0 && (best < 0 || weights[k] > weights[best]) {
			best = k
		}
	}
	if best < 0 {
		return Language{Label: "other script"}
	}
	s := scripts[best]
	if kana := weights[1] + weights[2]; s.code == "zh" && kana >= KanaShare*(kana+weights[0]) {
		s = scripts[1]
	}
	return Language{Label: s.label, Code: s.code}
}

// covers reports whether a plugin reading languages (ISO 639-1 codes) reads
// conversations in l (text without letters is in no language: not counted
// against it, but apart, see Coverage.NoLetters): a known code must be one of them; an unknown
// language in Latin letters may be English, and is given the benefit of the
// doubt when the plugin reads a Latin-script language.
func covers(languages []string, l Language) bool {
	if len(languages) == 0 || l.NoLetters {
		return true
	}
	if l.Code != "" {
		for _, c := range languages {
			if c == l.Code {
				return true
			}
		}
		return false
	}
	if !l.Latin {
		return false
	}
	for _, c := range languages {
		if latinCodes[c] {
			return true
		}
	}
	return false
}

// stripCode removes Markdown code from s: fenced blocks (from a ``` to the
// next, or to the end when it is not closed; answers often open a fence
// mid-line) and inline spans (`...` on one line).
func stripCode(s string) string {
	if !strings.Contains(s, "`") {
		return s
	}
	var b strings.Builder
	for k, part := range strings.Split(s, "```") {
		if k%2 == 1 {
			b.WriteByte('\n')
			continue
		}
		for line := range strings.Lines(part) {
			for {
				i := strings.IndexByte(line, '`')
				if i < 0 {
					break
				}
				j := strings.IndexByte(line[i+1:], '`')
				if j < 0 {
					break
				}
				b.WriteString(line[:i])
				b.WriteByte(' ')
				line = line[i+1+j+1:]
			}
			b.WriteString(line)
		}
	}
	return b.String()
}
