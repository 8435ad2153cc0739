// Package protocol is plugin protocol v1 as plain Go values: the messages of
// sdk/proto/valuescope/plugin/v1/plugin.proto, with JSON tags giving the JSON
// that Wasm plugins exchange with the host (the proto3 JSON mapping with the
// .proto's field names).
//
// The .proto file is the definition; these types are its JSON view, kept
// without a protobuf dependency so that a Wasm guest stays small and decodes
// fast. A test walks the .proto's descriptors and fails when the two differ
// in any message, field, name or type.
package protocol

import "slices"

// ABI is the protocol version this package speaks. A plugin states its
// version in Manifest.ABI; the host refuses any other.
const ABI = 1

// Encodings of the Wasm ABI (sdk/ABI.md): a module exporting vs_encoding
// returning EncodingProtobuf exchanges the messages' protobuf encoding;
// otherwise JSON.
const (
	EncodingJSON     = 0
	EncodingProtobuf = 1
)

// Plugin kinds.
const (
	Extractor  = "extractor"
	Classifier = "classifier"
	// Namer plugins name the clusters of a taxonomy, one cluster per
	// request (sdk/ABI.md, "Namer plugins"; sdk/naming in Go).
	Namer = "namer"
)

// A namer's answer: one annotation of FieldClusterName with one item, the
// cluster's name, with its description in the attribute AttrDescription.
const (
	FieldClusterName = "cluster_name"
	AttrDescription  = "description"
)

// What a plugin may need from the host (Manifest.Needs).
const (
	NeedModel      = "model"
	NeedEmbeddings = "embeddings"
)

// DescribeRequest asks a plugin for its Manifest. It is empty.
type DescribeRequest struct{}

// Manifest says what a plugin is and what it writes.
type Manifest struct {
	Name        string   `json:"name,omitempty"`
	Version     string   `json:"version,omitempty"`
	ABI         uint32   `json:"abi,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Field       string   `json:"field,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	Needs       []string `json:"needs,omitempty"`
	Description string   `json:"description,omitempty"`
	Fields      []string `json:"fields,omitempty"`
}

// Equal reports whether m and o say the same of a plugin, field by field (a
// nil list and an empty one are the same): a restarted plugin process, or a
// second instance, must say what the first said.
func (m Manifest) Equal(o Manifest) bool {
	return m.Name == o.Name && m.Version == o.Version && m.ABI == o.ABI && m.Kind == o.Kind && m.Field == o.Field &&
		m.Description == o.Description && slices.Equal(m.Labels, o.Labels) && slices.Equal(m.Needs, o.Needs) &&
		slices.Equal(m.Fields, o.Fields)
}

// ConfigureRequest configures a plugin instance once, before any
// conversation: ConfigJSON is the stage's config table as a JSON object ("{}"
// when absent) and Prompt the text of the prompt file it names.
type ConfigureRequest struct {
	ConfigJSON string `json:"config_json,omitempty"`
	Prompt     string `json:"prompt,omitempty"`
}

// ConfigureResponse answers a ConfigureRequest. A non-empty Error refuses the
// configuration, and the run does not start.
type ConfigureResponse struct {
	Error string `json:"error,omitempty"`
}

// Turn is one message of a conversation. Role is user, assistant, system or
// tool.
type Turn struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// Conversation is what a plugin reads. MetaJSON holds the source's other
// fields (model, language, ...) as a JSON object; for a namer it is the
// cluster to name (sdk/naming).
type Conversation struct {
	ID       string `json:"id,omitempty"`
	Source   string `json:"source,omitempty"`
	Turns    []Turn `json:"turns,omitempty"`
	MetaJSON string `json:"meta_json,omitempty"`
}

// ProcessRequest is one round for one conversation. In round 0
// ModelResponses is empty; in round n > 0 it holds the answers to the calls
// returned in round n-1, and State is the state returned then, unchanged.
type ProcessRequest struct {
	Conversation   *Conversation   `json:"conversation,omitempty"`
	Round          uint32          `json:"round,omitempty"`
	ModelResponses []ModelResponse `json:"model_responses,omitempty"`
	State          string          `json:"state,omitempty"`
}

// ProcessResponse ends a round with exactly one of Annotations (done),
// ModelCalls (another round) or Error (this conversation fails; the run goes
// on). State is handed back in the next round's request.
type ProcessResponse struct {
	Annotations []Annotation `json:"annotations,omitempty"`
	ModelCalls  []ModelCall  `json:"model_calls,omitempty"`
	Error       string       `json:"error,omitempty"`
	State       string       `json:"state,omitempty"`
}

// Annotation is what a plugin writes into one field: a classifier's Label,
// or an extractor's Items.
type Annotation struct {
	Field string `json:"field,omitempty"`
	Label string `json:"label,omitempty"`
	Items []Item `json:"items,omitempty"`
}

// Item is one thing an extractor found (a value, a task...), named, with
// optional attributes such as the evidence for it.
type Item struct {
	Name  string            `json:"name,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Message is one message of a model call: Role is user or assistant.
type Message struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// ModelCall asks the host to call a model; the host makes the call, with its
// cache, limits and retries, and returns a ModelResponse of the same ID.
// SchemaJSON, if set, is a JSON Schema the answer must follow; Kind is "" for
// chat and "embed" for embeddings of the Messages' contents.
type ModelCall struct {
	ID          string    `json:"id,omitempty"`
	Model       string    `json:"model,omitempty"`
	System      string    `json:"system,omitempty"`
	Messages    []Message `json:"messages,omitempty"`
	MaxTokens   uint32    `json:"max_tokens,omitempty"`
	Temperature float64   `json:"temperature,omitempty"`
	SchemaJSON  string    `json:"schema_json,omitempty"`
	Kind        string    `json:"kind,omitempty"`
}

// ModelResponse is the host's answer to the ModelCall of the same ID: its
// Text (or Embeddings), or an Error when the call failed.
type ModelResponse struct {
	ID         string      `json:"id,omitempty"`
	Text       string      `json:"text,omitempty"`
	Error      string      `json:"error,omitempty"`
	Embeddings []Embedding `json:"embeddings,omitempty"`
	StopReason string      `json:"stop_reason,omitempty"`
}

// Embedding is one embedding vector, for one input of an embed call.
type Embedding struct {
	Vector []float32 `json:"vector,omitempty"`
}
