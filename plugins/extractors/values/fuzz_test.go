package values_test

import (
	"testing"
	"unicode/utf8"

	"github.com/valuescope/valuescope/plugins/extractors/values"
	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
)

// Whatever the model answers, Parse either refuses it or returns items the
// host accepts: normalised names of 1 to 60 characters and at most 100
// bytes, valid UTF-8, a known expression, short evidence.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"ai_values": [{"name": "Honesty.", "expression": "explicit", "evidence": "I'll be honest"}], "human_values": [{"name": "family", "evidence": "my family"}]}`,
		`{"ai_values": [{"name": "call 555 123 4567", "expression": "implicit", "evidence": "mail a@b.co"}], "human_values": []}`,
		"```json\n{\"ai_values\": [], \"human_values\": []}\n```",
		`{"ai_values": [{"name": "\u00e9\u00e9\u00e9 \ud800", "expression": "implicit", "evidence": "\u0000"}], "human_values": []}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		anns, err := values.Parse(answer)
		if err != nil {
			return
		}
		if len(anns) != 2 || anns[0].Field != "ai_values" || anns[1].Field != "human_values" {
			t.Fatalf("annotations %+v", anns)
		}
		for _, a := range anns {
			for _, it := range a.Items {
				if n, ok := modelplugin.NormalizeName(it.Name, values.MaxNameChars); !ok || n != it.Name ||
					len(it.Name) > modelplugin.MaxNameBytes || !utf8.ValidString(it.Name) {
					t.Fatalf("name %q", it.Name)
				}
				if e := it.Attrs["expression"]; e != "explicit" && e != "implicit" {
					t.Fatalf("expression %q", e)
				}
				if ev, ok := it.Attrs["evidence"]; ok && (ev == "" || !utf8.ValidString(ev) || utf8.RuneCountInString(ev) > 160) {
					t.Fatalf("evidence %q", ev)
				}
			}
		}
	})
}
