package fakeapi

import (
	"encoding/json"
	"fmt"

	"github.com/valuescope/valuescope/internal/jsonschema"
)

// SchemaInstance is a small JSON value valid against a JSON Schema of the
// shapes plugins send (jsonschema.Example), for a fake server to answer any
// plugin's structured-output call. seed varies the strings, so that answers
// differ between calls.
func SchemaInstance(schema []byte, seed string) (string, error) {
	var s any
	if err := json.Unmarshal(schema, &s); err != nil {
		return "", fmt.Errorf("schema: %w", err)
	}
	b, err := json.Marshal(jsonschema.Example(s, "x "+seed))
	return string(b), err
}
