package config

import (
	"encoding"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// referencePath is the config reference, from this package's folder.
const referencePath = "../../configs/REFERENCE.md"

// configKeys is every TOML key of a run config, by the section heading it
// belongs under ("[run]", "[models.NAME]", "[[stages]]",
// "[[analysis.table]]"...), walked from Config's toml tags. A key whose value
// is a table of settings (a struct, a map of them, a list of them) has a
// section of its own as well; one holding text (a Duration) or a free-form
// table (map[string]any) is a plain key.
func configKeys() map[string][]string {
	out := map[string][]string{}
	text := reflect.TypeFor[encoding.TextUnmarshaler]()
	var walk func(t reflect.Type, path, heading string)
	walk = func(t reflect.Type, path, heading string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			sub := strings.TrimPrefix(path+"."+name, ".")
			switch {
			case reflect.PointerTo(ft).Implements(text):
			case ft.Kind() == reflect.Struct:
				walk(ft, sub, "["+sub+"]")
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), sub+".NAME", "["+sub+".NAME]")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), sub, "[["+sub+"]]")
			default:
				out[heading] = append(out[heading], name)
				continue
			}
			if heading != "" { // a section within a section is one of its keys
				out[heading] = append(out[heading], name)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", "")
	return out
}

// referenceKeys is the keys the reference lists, by section: the first
// column of the tables under each "## `[section]`" heading.
func referenceKeys(doc string) map[string][]string {
	out := map[string][]string{}
	section := ""
	for line := range strings.Lines(doc) {
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.Trim(strings.TrimPrefix(line, "## "), " `\n")
			out[section] = nil
		case strings.HasPrefix(line, "| `") && section != "":
			key, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			out[section] = append(out[section], key)
		}
	}
	return out
}

// configs/REFERENCE.md lists every key of a run config under its section,
// once, and no key or section that a config cannot have: a key added to a
// section's struct fails this test until it is documented.
func TestReference(t *testing.T) {
	doc, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	want, got := configKeys(), referenceKeys(string(doc))
	if len(want["[models.NAME]"]) < 10 || len(want["[[analysis.table]]"]) < 5 {
		t.Fatalf("the walk of Config found too little: %v", want)
	}
	for section, keys := range want {
		listed, ok := got[section]
		if !ok {
			t.Errorf("%s: no section %q (a heading \"## `%s`\")", referencePath, section, section)
			continue
		}
		for _, k := range keys {
			if !slices.Contains(listed, k) {
				t.Errorf("%s: section %s does not list key %q", referencePath, section, k)
			}
		}
		for i, k := range listed {
			if !slices.Contains(keys, k) {
				t.Errorf("%s: section %s lists %q, which is not a key of it", referencePath, section, k)
			} else if slices.Index(listed, k) != i {
				t.Errorf("%s: section %s lists %q twice", referencePath, section, k)
			}
		}
	}
	for section := range got {
		if _, ok := want[section]; !ok {
			t.Errorf("%s: section %q is not one a config has", referencePath, section)
		}
	}
}
