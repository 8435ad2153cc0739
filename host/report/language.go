package report

import (
	"strings"
	"unicode"

	"github.com/valuescope/valuescope/host/conversation"
)

// Language is what the report knows of a conversation's language: from the
// dataset's metadata where it names one, else guessed from the script of
// the assistant's turns (all turns when there is none). A script says
// little of the language (Latin script is English, Spanish, Vietnamese,
// code...), so Code is set only when it is known.
type Language struct {
	// Label is what the report shows: the metadata's value, or a script.
	Label string
	// Code is the ISO 639-1 code when known ("": unknown).
	Code string
	// Latin: the text is mostly Latin letters (or the language is written
	// in them), so a plugin that reads English may read it.
	Latin bool
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
// code ("en", "en-US").
func metaLanguage(v string) Language {
	k := strings.ToLower(strings.TrimSpace(v))
	code, ok := languageCodes[k]
	if !ok {
		base, _, _ := strings.Cut(k, "-")
		for _, c := range languageCodes {
			if c == base {
				code = c
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
// all its turns (the user's language is the conversation's; the assistant
// mostly answers in it).
func detectScript(c *conversation.Conversation) Language {
	weights := make([]float64, len(scripts))
	latin, other := 0.0, 0.0
	for i := range c.Turns {
		for _, r := range c.Turns[i].Content {
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
		return Language{Label: "no letters"}
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
// conversations in l: a known code must be one of them; an unknown
// language in Latin letters may be English, and is given the benefit of the
// doubt when the plugin reads a Latin-script language.
func covers(languages []string, l Language) bool {
	if len(languages) == 0 {
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
