package dataset

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/valuescope/valuescope/host/conversation"
)

// A Format turns the records of one published layout into conversations.
type Format struct {
	// Name is what --format and the config's dataset.format accept.
	Name string
	// Layout is a one-line description of the record shape, for help text.
	Layout string
	// detect returns nil when a sample record (decoded generically) has this
	// format's shape, or the reason it does not.
	detect func(sample map[string]any) error
	// decode appends the conversations of one record to dst; lenient
	// replaces invalid UTF-8 instead of rejecting the record.
	decode func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error)
	// decodeObject, when set, does what decode does from the record already
	// decoded generically (a Parquet row, see parquet_object.go), or fails;
	// on failure the record is decoded from its bytes instead, so it need
	// not explain why.
	decodeObject func(rec map[string]any, dst []conversation.Conversation) ([]conversation.Conversation, error)
}

// formats is the registry, in detection order: the most specific shapes
// first, so that e.g. an Anthropic log with a top-level "system" is not taken
// for OpenAI messages.
var formats = []*Format{
	formatValuescope,
	formatHHRLHF,
	formatWildChat,
	formatLMSYS,
	formatShareGPT,
	formatClaudeExport,
	formatAnthropic,
	formatOpenAI,
}

// Formats returns the supported formats in detection order.
func Formats() []*Format { return slices.Clone(formats) }

// FormatNames returns the names --format accepts (without "auto").
func FormatNames() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return names
}

// LookupFormat returns the named format.
func LookupFormat(name string) (*Format, error) {
	for _, f := range formats {
		if f.Name == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(FormatNames(), ", "))
}

// DetectError says that a record matched no format, and why each was refused.
type DetectError struct {
	Location
	Reasons []string // "format: reason", one per format tried
}

func (e *DetectError) Error() string {
	return fmt.Sprintf("%s: not a known dataset format; tried:\n  %s", e.Location, strings.Join(e.Reasons, "\n  "))
}

// detect picks the format of a sample record.
func detect(data []byte, loc Location) (*Format, error) {
	var sample map[string]any
	if err := json.Unmarshal(data, &sample, jsonOptions, jsontext.AllowDuplicateNames(true)); err != nil {
		return nil, &BadRecord{Location: loc, Reason: "not a JSON object: " + jsonReason(err)}
	}
	return detectSample(sample, loc)
}

// detectSample picks the format of a sample record decoded generically.
func detectSample(sample map[string]any, loc Location) (*Format, error) {
	derr := &DetectError{Location: loc}
	for _, f := range formats {
		err := f.detect(sample)
		if err == nil {
			return f, nil
		}
		derr.Reasons = append(derr.Reasons, f.Name+": "+err.Error())
	}
	return nil, derr
}

// Shape checks used by the detectors. Each returns the reason a sample does
// not fit, so that a file in no format can say what every format expected.

func needString(m map[string]any, key string) error {
	switch v, ok := m[key]; {
	case !ok:
		return fmt.Errorf("no %q field", key)
	case !isString(v):
		return fmt.Errorf("%q is %s, want a string", key, kindOf(v))
	}
	return nil
}

// needList checks that m[key] is a list whose first element, if any, is an
// object with each of the given member names.
func needList(m map[string]any, key string, members ...string) error {
	v, ok := m[key]
	if !ok {
		return fmt.Errorf("no %q field", key)
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%q is %s, want a list", key, kindOf(v))
	}
	if len(list) == 0 {
		return nil
	}
	first, ok := list[0].(map[string]any)
	if !ok {
		return fmt.Errorf("%q[0] is %s, want an object", key, kindOf(list[0]))
	}
	for _, name := range members {
		if _, ok := first[name]; !ok {
			return fmt.Errorf("%q[0] has no %q", key, name)
		}
	}
	return nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonReason shortens a JSON error to what a person needs: the problem and
// where in the record.
func jsonReason(err error) string {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.ByteOffset, se.Err)
	}
	var serr *json.SemanticError
	if errors.As(err, &serr) {
		where := string(serr.JSONPointer)
		if where == "" {
			where = "record"
		}
		msg := "unexpected " + serr.JSONKind.String()
		if serr.Err != nil {
			msg = serr.Err.Error()
		}
		if serr.GoType != nil {
			return fmt.Sprintf("%s: %s (want %s)", where, msg, goKind(serr.GoType.String()))
		}
		return where + ": " + msg
	}
	return err.Error()
}

func goKind(t string) string {
	switch {
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map[") || strings.Contains(t, "."):
		return "an object"
	}
	return t
}
