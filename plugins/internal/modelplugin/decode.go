package modelplugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Decode parses a model's answer into v (a pointer to a struct) strictly:
// one JSON object, optionally inside one Markdown code fence, with no
// unknown keys, no values of the wrong type, and nothing after it. Required
// keys are the caller's to check (use pointer fields and Missing).
//
// Its errors are written to be shown to the model in the repair round.
func Decode(text string, v any) error {
	s := strings.TrimSpace(text)
	if s == "" {
		return errors.New("the answer is empty; expected a JSON object")
	}
	if strings.HasPrefix(s, "```") {
		nl := strings.IndexByte(s, '\n')
		if nl < 0 || !strings.HasSuffix(s, "```") || len(s) < nl+4 {
			return errors.New("the answer starts a Markdown code fence but does not close it")
		}
		s = strings.TrimSpace(s[nl+1 : len(s)-3])
	}
	if !strings.HasPrefix(s, "{") {
		return errors.New("the answer is not a JSON object (it must start with \"{\" and contain nothing else)")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("there is text after the JSON object; answer with the JSON object only")
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("the answer is not valid JSON (at byte %d: %v)", syn.Offset, err)
	case errors.As(err, &typ):
		where := "the answer"
		if typ.Field != "" {
			where = fmt.Sprintf("%q", typ.Field)
		}
		return fmt.Errorf("%s: expected %s, got a JSON %s", where, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON object is cut off before its end")
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s; use only the keys the schema defines", rest)
	}
	return errors.New(strings.TrimPrefix(msg, "json: "))
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// Missing returns an error naming the keys whose flag is false, in order:
// Missing("level", l != nil, "reasoning", r != nil).
func Missing(pairs ...any) error {
	var names []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if present, _ := pairs[i+1].(bool); !present {
			names = append(names, fmt.Sprintf("%q", pairs[i]))
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("missing key %s (every key of the schema is required, and none may be null)", strings.Join(names, ", "))
}
