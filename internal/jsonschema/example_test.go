package jsonschema

import (
	"encoding/json"
	"testing"
)

func TestExample(t *testing.T) {
	for _, c := range []struct{ schema, want string }{
		{`{"type":"object","properties":{"level":{"type":"integer","minimum":1},"why":{"type":"string"}}}`, `{"level":1,"why":"t"}`},
		{`{"type":"object","properties":{"task":{"type":"string","enum":["coding","writing"]}}}`, `{"task":"coding"}`},
		{`{"type":"array","minItems":2,"items":{"type":"string","minLength":3}}`, `["txx","txx"]`},
		{`{"properties":{"ok":{"type":"boolean"},"n":{"type":["null","number"]}}}`, `{"n":null,"ok":true}`},
		{`{"anyOf":[{"const":"x"},{"type":"string"}]}`, `"x"`},
		{`{"type":"string","maxLength":0}`, `""`},
		{`{"type":"array","minItems":1000,"items":{"type":"integer"}}`, `[1,1,1,1,1,1,1,1]`},
	} {
		var s any
		if err := json.Unmarshal([]byte(c.schema), &s); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(Example(s, "t"))
		if string(b) != c.want {
			t.Errorf("%s: %s, want %s", c.schema, b, c.want)
		}
	}
}
