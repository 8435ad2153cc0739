package fakeapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SchemaInstance is a small JSON value valid against a JSON Schema of the
// shapes plugins send (objects, arrays, strings, numbers, booleans, enums,
// const, required, minItems, minimum, anyOf/oneOf), for a fake server to
// answer any plugin's structured-output call: an enum's first value, the
// lowest number allowed, "x" repeated to minLength, minItems elements (at
// least one). seed varies the strings, so that answers differ between calls.
func SchemaInstance(schema []byte, seed string) (string, error) {
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return "", fmt.Errorf("schema: %w", err)
	}
	b, err := json.Marshal(instance(s, seed, 0))
	return string(b), err
}

func instance(s map[string]any, seed string, depth int) any {
	if depth > 16 {
		return nil
	}
	if v, ok := s["const"]; ok {
		return v
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			if a, ok := alts[0].(map[string]any); ok {
				return instance(a, seed, depth+1)
			}
		}
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			if ps, ok := p.(map[string]any); ok {
				out[name] = instance(ps, seed+"."+name, depth+1)
			}
		}
		return out
	case "array":
		n := 1
		if m, ok := s["minItems"].(float64); ok && int(m) > n {
			n = int(m)
		}
		items, _ := s["items"].(map[string]any)
		out := make([]any, n)
		for i := range out {
			out[i] = instance(items, fmt.Sprintf("%s[%d]", seed, i), depth+1)
		}
		return out
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return true
	case "null":
		return nil
	}
	v := "x " + seed
	if m, ok := s["minLength"].(float64); ok && len(v) < int(m) {
		v += strings.Repeat("x", int(m)-len(v))
	}
	if m, ok := s["maxLength"].(float64); ok && len(v) > int(m) {
		v = v[:int(m)]
	}
	return v
}
