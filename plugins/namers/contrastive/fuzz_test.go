package contrastive_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/plugins/namers/contrastive"
)

// Whatever the model answers, Parse either refuses it or returns one name
// the host accepts: at most 60 characters and 100 bytes of valid UTF-8 with
// a letter, trimmed, without control characters, and a description.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"name": "Intellectual clarity", "description": "This group of values emphasized clarity."}`,
		"```json\n{\"name\": \" \\\"Care.\\\" \", \"description\": \"d\"}\n```",
		`{"name": "\u200b\u0000x\ud800", "description": "\u0007 a"}`,
		`{"name": "call 555 123 4567", "description": "mail a@b.co"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		anns, err := contrastive.Parse(answer)
		if err != nil {
			return
		}
		name, desc, err := plugin.ClusterName(contrastive.Manifest(), anns)
		if err != nil {
			t.Fatal(err)
		}
		if err := plugin.CheckAnnotations(contrastive.Manifest(), anns); err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(name) > 60 || strings.IndexFunc(name, unicode.IsLetter) < 0 || strings.Contains(name, "  ") ||
			strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
			t.Fatalf("name %q", name)
		}
		if desc == "" || !utf8.ValidString(desc) {
			t.Fatalf("description %q", desc)
		}
	})
}
