package conformance

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestCheckName(t *testing.T) {
	for name, want := range map[string]string{
		"honesty":                "",
		"epistemic humility":     "",
		"self-determination":     "",
		"ehrlichkeit ü":          "",
		"":                       "is empty",
		" honesty":               "leading or trailing",
		"Honesty":                "not lower case",
		"honesty.":               "punctuation",
		"two  spaces":            "run of spaces",
		"tab\there":              "white space U+0009",
		"zero\u200bwidth":        "U+200B",
		"bell\x07":               "U+0007",
		"bad \xff":               "not valid UTF-8",
		strings.Repeat("a", 101): "over 100",
	} {
		got := CheckName(name)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("CheckName(%q) = %q, want %q", name, got, want)
		}
	}
}

// wasmBinary assembles a module from sections (id, body).
func wasmBinary(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s[0], byte(len(s)-1))
		b = append(b, s[1:]...)
	}
	return b
}

func name(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func TestInspectWasm(t *testing.T) {
	types := []byte{1, 2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f} // ()->(), (i32)->i32
	var imports []byte
	imports = append(imports, 2, 4)
	for _, imp := range [][]byte{
		append(append(name("env"), name("host_log")...), 0, 0),
		append(append(name("env"), name("memory")...), 2, 0, 1),
		append(append(name("wasi_snapshot_preview1"), name("fd_write")...), 0, 0),
		append(append(name("wasi_snapshot_preview1"), name("sock_open")...), 0, 0),
	} {
		imports = append(imports, imp...)
	}
	funcs := []byte{3, 1, 1}                                         // one function of type (i32)->i32
	exports := append(append([]byte{7, 1}, name("vs_abi")...), 0, 3) // vs_abi = function 3 (after 3 imported)
	problems, _, refused, err := inspectWasm(wasmBinary(types, imports, funcs, exports))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"imports env.host_log: the host provides only wasi_snapshot_preview1",
		"imports env.memory (memory)",
		"imports wasi_snapshot_preview1.fd_write with signature ()->(); WASI preview 1's is (i32,i32,i32,i32)->i32",
		"imports wasi_snapshot_preview1.sock_open, which is not a WASI preview 1 function",
		"exports vs_abi with signature (i32)->i32, want ()->i32",
		"does not export vs_process (i32,i32)->i64",
		`does not export its linear memory as "memory"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if strings.Join(refused, ",") != "env.host_log,env.memory (memory)" {
		t.Errorf("refused imports %v", refused)
	}
	if _, _, _, err := inspectWasm([]byte("not wasm")); err == nil {
		t.Error("no error on bytes that are not Wasm")
	}
	if _, _, _, err := inspectWasm(wasmBinary([]byte{2, 5, 1})); err == nil {
		t.Error("no error on a truncated import section")
	}
}

func TestSchemaExample(t *testing.T) {
	schema := `{"type":"object","properties":{
		"label":{"enum":["strong support","neutral"]},
		"values":{"type":"array","minItems":2,"items":{"type":"object","properties":{"name":{"type":"string"},"explicit":{"type":"boolean"}}}},
		"score":{"type":"number","minimum":3},
		"note":{"anyOf":[{"type":"null"},{"type":"string"}]}}}`
	got := goodAnswer(protocol.ModelCall{ID: "a", SchemaJSON: schema}).Text
	want := `{"label":"strong support","note":null,"score":3,"values":[{"explicit":true,"name":"honesty"},{"explicit":true,"name":"honesty"}]}`
	if got != want {
		t.Errorf("answer %s\nwant   %s", got, want)
	}
	emb := goodAnswer(protocol.ModelCall{ID: "e", Kind: "embed", Messages: []protocol.Message{{Role: "user", Content: "x"}, {Role: "user", Content: "y"}}})
	if len(emb.Embeddings) != 2 || len(emb.Embeddings[0].Vector) != 8 {
		t.Errorf("embeddings %+v", emb)
	}
	a, _ := AnswersModels{"one", "two"}.Call(context.Background(), []protocol.ModelCall{{ID: "x", Messages: []protocol.Message{{Role: "user", Content: "q"}}}})
	b, _ := AnswersModels{"one", "two"}.Call(context.Background(), []protocol.ModelCall{{ID: "x", Messages: []protocol.Message{{Role: "user", Content: "q"}}}})
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	if string(x) != string(y) {
		t.Errorf("AnswersModels is not deterministic: %s, %s", x, y)
	}
}

func TestCheckCalls(t *testing.T) {
	model := protocol.Manifest{Needs: []string{protocol.NeedModel}}
	msg := []protocol.Message{{Role: "user", Content: "q"}}
	for _, c := range []struct {
		m     protocol.Manifest
		calls []protocol.ModelCall
		want  string
	}{
		{model, []protocol.ModelCall{{ID: "a", Messages: msg}, {ID: "b", Messages: msg}}, ""},
		{model, []protocol.ModelCall{{Messages: msg}}, "has no id"},
		{model, []protocol.ModelCall{{ID: "a", Messages: msg}, {ID: "a", Messages: msg}}, "share the id"},
		{model, []protocol.ModelCall{{ID: "a"}}, "no messages"},
		{model, []protocol.ModelCall{{ID: "a", Messages: []protocol.Message{{Role: "system"}}}}, `role "system"`},
		{model, []protocol.ModelCall{{ID: "a", Kind: "embed", Messages: msg}}, `do not list "embeddings"`},
		{protocol.Manifest{}, []protocol.ModelCall{{ID: "a", Messages: msg}}, `do not list "model"`},
		{model, []protocol.ModelCall{{ID: "a", Messages: msg, SchemaJSON: "{"}}, "not JSON"},
	} {
		got := checkCalls(c.m, c.calls)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("checkCalls(%+v) = %q, want %q", c.calls, got, c.want)
		}
	}
}

func TestCheckOutput(t *testing.T) {
	cls := protocol.Manifest{Name: "c", Kind: protocol.Classifier, Field: "f", Labels: []string{"a", "b"}}
	ext := protocol.Manifest{Name: "e", Kind: protocol.Extractor, Field: "f", Fields: []string{"g"}}
	nam := protocol.Manifest{Name: "n", Kind: protocol.Namer, Field: protocol.FieldClusterName}
	named := func(names ...string) []protocol.Annotation {
		a := protocol.Annotation{Field: protocol.FieldClusterName}
		for _, n := range names {
			a.Items = append(a.Items, protocol.Item{Name: n, Attrs: map[string]string{"description": "d"}})
		}
		return []protocol.Annotation{a}
	}
	for _, c := range []struct {
		m    protocol.Manifest
		anns []protocol.Annotation
		want string
	}{
		{cls, []protocol.Annotation{{Label: "a"}}, ""},
		{cls, []protocol.Annotation{{Label: "A"}}, "not in the manifest's labels"},
		{cls, []protocol.Annotation{{Label: "a"}, {Label: "b"}}, "a classifier picks one label"},
		{ext, []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty"}}}, {Field: "g"}}, ""},
		{ext, []protocol.Annotation{{Field: "h"}}, "not declared"},
		{ext, []protocol.Annotation{{Items: []protocol.Item{{Name: "Honesty."}}}}, "not lower case"},
		{ext, []protocol.Annotation{{Items: []protocol.Item{{Name: "x", Attrs: map[string]string{"e": "\xff"}}}}}, "valid UTF-8"},
		{nam, named("Intellectual clarity"), ""},
		{nam, named("Intellectual clarity."), "ends with punctuation"},
		{nam, named("Honesty", "Care"), "a namer answers one annotation with one item"},
		{nam, nil, "got 0 annotation(s)"},
		{nam, named("Care\u200b"), "formatting character"},
	} {
		got := checkOutput(c.m, c.anns, plugin.CheckAnnotations(c.m, c.anns))
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("checkOutput(%+v) = %q, want %q", c.anns, got, c.want)
		}
	}
}
