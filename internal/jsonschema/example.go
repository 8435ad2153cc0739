// Package jsonschema makes small instances of the JSON Schemas plugins send
// with their model calls, for the test servers and the conformance kit that
// answer them.
package jsonschema

import "strings"

// Example is a small value valid against a schema of the shapes plugins
// send (objects, arrays, strings, numbers, booleans, enums, const,
// anyOf/oneOf/allOf, minItems, minimum, minLength/maxLength): an enum's or
// const's first value, every property of an object (required or not),
// minItems elements of an array (at least one, at most eight), the lowest
// number allowed, and text for a string (padded or cut to its length
// bounds). schema is decoded JSON (encoding/json into any).
func Example(schema any, text string) any { return example(schema, text, 0) }

func example(schema any, text string, depth int) any {
	s, ok := schema.(map[string]any)
	if !ok || depth > 16 {
		return text
	}
	if v, ok := s["const"]; ok {
		return v
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			return example(alts[0], text, depth+1)
		}
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	if typ == "" {
		switch {
		case s["properties"] != nil:
			typ = "object"
		case s["items"] != nil:
			typ = "array"
		}
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			out[k] = example(v, text, depth+1)
		}
		return out
	case "array":
		n := 1
		if m, ok := s["minItems"].(float64); ok && int(m) > n {
			n = min(int(m), 8)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = example(s["items"], text, depth+1)
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
	v := text
	if m, ok := s["minLength"].(float64); ok && len(v) < int(m) {
		v += strings.Repeat("x", int(m)-len(v))
	}
	if m, ok := s["maxLength"].(float64); ok && len(v) > int(m) {
		v = v[:int(m)]
	}
	return v
}
