package protocol_test

import (
	"encoding/json"
	"fmt"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// A ProcessRequest and its ProcessResponse as they travel between the host
// and a Wasm plugin speaking JSON: the proto3 JSON mapping with the .proto's
// field names, empty fields left out.
func Example_json() {
	req := protocol.ProcessRequest{Conversation: &protocol.Conversation{
		ID: "c1",
		Turns: []protocol.Turn{
			{Role: "user", Content: "Help me write a thank-you note."},
			{Role: "assistant", Content: "Gladly. Gratitude is worth saying plainly."},
		},
	}}
	b, err := json.Marshal(&req)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	var resp protocol.ProcessResponse
	in := `{"annotations":[{"field":"ai_values","items":[{"name":"gratitude"}]}]}`
	if err := json.Unmarshal([]byte(in), &resp); err != nil {
		panic(err)
	}
	fmt.Println(resp.Annotations[0].Field, resp.Annotations[0].Items[0].Name)
	// Output:
	// {"conversation":{"id":"c1","turns":[{"role":"user","content":"Help me write a thank-you note."},{"role":"assistant","content":"Gladly. Gratitude is worth saying plainly."}]}}
	// ai_values gratitude
}

// The same messages in their protobuf encoding, which a Wasm module exporting
// vs_encoding = EncodingProtobuf exchanges, and which gRPC carries.
func Example_protobuf() {
	resp := protocol.ProcessResponse{Annotations: []protocol.Annotation{{
		Field: "response_type",
		Label: "mild support",
	}}}
	b := resp.AppendProto(nil)
	fmt.Printf("% x\n", b)

	var back protocol.ProcessResponse
	if err := back.UnmarshalProto(b); err != nil {
		panic(err)
	}
	fmt.Println(back.Annotations[0].Label)
	// Output:
	// 0a 1d 0a 0d 72 65 73 70 6f 6e 73 65 5f 74 79 70 65 12 0c 6d 69 6c 64 20 73 75 70 70 6f 72 74
	// mild support
}
