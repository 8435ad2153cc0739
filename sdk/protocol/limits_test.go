package protocol_test

import (
	"strings"
	"testing"

	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestCheckItemName(t *testing.T) {
	for name, want := range map[string]string{
		"honesty":                "",
		"epistemic humility":     "",
		"user's autonomy":        "",
		"well-being":             "",
		"self-determination":     "",
		"ehrlichkeit ü":          "",
		"честность":              "",
		"誠実さ":                    "",
		"الصدق":                  "",
		strings.Repeat("a", 100): "",
		"":                       "is empty",
		" honesty":               "leading or trailing",
		"honesty ":               "leading or trailing",
		"Honesty":                "not lower case",
		"ÉQUITÉ":                 "not lower case",
		"honesty.":               "punctuation",
		"two  spaces":            "run of spaces",
		"tab\there":              "white space U+0009",
		"zero\u200bwidth":        "U+200B",
		"evil\u202eoverride":     "U+202E",
		"bell\x07":               "U+0007",
		"bad \xff":               "not valid UTF-8",
		strings.Repeat("a", 101): "over 100",
	} {
		err := protocol.CheckItemName(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckItemName(%q) = %v, want nil", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckItemName(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}

func TestCheckDisplayName(t *testing.T) {
	for _, name := range []string{"Intellectual clarity", "Épistémologie", "honesty"} {
		if err := protocol.CheckDisplayName(name); err != nil {
			t.Errorf("CheckDisplayName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", " Honesty", "Two  Spaces", "Zero\u200bWidth", "Bell\x07", "Evil\u202eOverride", "Bad \xff", strings.Repeat("A", 101)} {
		if err := protocol.CheckDisplayName(name); err == nil {
			t.Errorf("CheckDisplayName(%q) = nil, want an error", name)
		}
	}
}

// An error about a huge name quotes a short prefix of it, not all of it.
func TestCheckItemNameQuotesLittle(t *testing.T) {
	err := protocol.CheckItemName("a" + strings.Repeat("é", 1<<20))
	if err == nil {
		t.Fatal("a 2 MB name passed")
	}
	if len(err.Error()) > 200 {
		t.Errorf("error is %d bytes long: %.100s…", len(err.Error()), err)
	}
	if strings.Contains(err.Error(), `\x`) {
		t.Errorf("the quote was cut inside a character: %v", err)
	}
}
