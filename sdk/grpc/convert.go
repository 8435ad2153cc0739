package grpc

import (
	pluginv1 "github.com/valuescope/valuescope/sdk/proto/valuescope/plugin/v1"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Conversions between the sdk/protocol structs (what plugin code and the host
// handle) and the generated protobuf messages (what goes over gRPC). They are
// the only ones: the plugin side (Serve) and the host side
// (host/plugin/grpc) both use them. A test fills every field of every struct
// and checks that a round trip keeps it.
//
// The results share slices of strings and floats, and maps, with their
// arguments: they are meant to be sent or read at once, not kept and
// modified. Empty slices and maps come out nil, as they would from the wire.

// ToProtoManifest converts a protocol.Manifest to its protobuf message, to send.
func ToProtoManifest(m protocol.Manifest) *pluginv1.Manifest {
	return &pluginv1.Manifest{
		Name:        m.Name,
		Version:     m.Version,
		Abi:         m.ABI,
		Kind:        m.Kind,
		Field:       m.Field,
		Labels:      nilIfEmpty(m.Labels),
		Needs:       nilIfEmpty(m.Needs),
		Description: m.Description,
		Fields:      nilIfEmpty(m.Fields),
	}
}

// FromProtoManifest converts a received protobuf message to a protocol.Manifest.
func FromProtoManifest(m *pluginv1.Manifest) protocol.Manifest {
	return protocol.Manifest{
		Name:        m.GetName(),
		Version:     m.GetVersion(),
		ABI:         m.GetAbi(),
		Kind:        m.GetKind(),
		Field:       m.GetField(),
		Labels:      nilIfEmpty(m.GetLabels()),
		Needs:       nilIfEmpty(m.GetNeeds()),
		Description: m.GetDescription(),
		Fields:      nilIfEmpty(m.GetFields()),
	}
}

// ToProtoConfigureRequest converts a protocol.ConfigureRequest to its protobuf message, to send.
func ToProtoConfigureRequest(r protocol.ConfigureRequest) *pluginv1.ConfigureRequest {
	return &pluginv1.ConfigureRequest{ConfigJson: r.ConfigJSON, Prompt: r.Prompt}
}

// FromProtoConfigureRequest converts a received protobuf message to a protocol.ConfigureRequest.
func FromProtoConfigureRequest(r *pluginv1.ConfigureRequest) protocol.ConfigureRequest {
	return protocol.ConfigureRequest{ConfigJSON: r.GetConfigJson(), Prompt: r.GetPrompt()}
}

// ToProtoConfigureResponse converts a protocol.ConfigureResponse to its protobuf message, to send.
func ToProtoConfigureResponse(r protocol.ConfigureResponse) *pluginv1.ConfigureResponse {
	return &pluginv1.ConfigureResponse{Error: r.Error}
}

// FromProtoConfigureResponse converts a received protobuf message to a protocol.ConfigureResponse.
func FromProtoConfigureResponse(r *pluginv1.ConfigureResponse) protocol.ConfigureResponse {
	return protocol.ConfigureResponse{Error: r.GetError()}
}

// ToProtoProcessRequest converts a protocol.ProcessRequest to its protobuf message, to send.
func ToProtoProcessRequest(r *protocol.ProcessRequest) *pluginv1.ProcessRequest {
	if r == nil {
		return nil
	}
	out := &pluginv1.ProcessRequest{Round: r.Round, State: r.State}
	if c := r.Conversation; c != nil {
		out.Conversation = &pluginv1.Conversation{Id: c.ID, Source: c.Source, MetaJson: c.MetaJSON}
		if len(c.Turns) > 0 {
			out.Conversation.Turns = make([]*pluginv1.Turn, len(c.Turns))
			for i, t := range c.Turns {
				out.Conversation.Turns[i] = &pluginv1.Turn{Role: t.Role, Content: t.Content}
			}
		}
	}
	if len(r.ModelResponses) > 0 {
		out.ModelResponses = make([]*pluginv1.ModelResponse, len(r.ModelResponses))
		for i, m := range r.ModelResponses {
			pm := &pluginv1.ModelResponse{Id: m.ID, Text: m.Text, Error: m.Error, StopReason: m.StopReason}
			if len(m.Embeddings) > 0 {
				pm.Embeddings = make([]*pluginv1.Embedding, len(m.Embeddings))
				for j, e := range m.Embeddings {
					pm.Embeddings[j] = &pluginv1.Embedding{Vector: nilIfEmpty(e.Vector)}
				}
			}
			out.ModelResponses[i] = pm
		}
	}
	return out
}

// FromProtoProcessRequest converts a received protobuf message to a protocol.ProcessRequest.
func FromProtoProcessRequest(r *pluginv1.ProcessRequest) *protocol.ProcessRequest {
	if r == nil {
		return nil
	}
	out := &protocol.ProcessRequest{Round: r.GetRound(), State: r.GetState()}
	if c := r.GetConversation(); c != nil {
		out.Conversation = &protocol.Conversation{ID: c.GetId(), Source: c.GetSource(), MetaJSON: c.GetMetaJson()}
		if turns := c.GetTurns(); len(turns) > 0 {
			out.Conversation.Turns = make([]protocol.Turn, len(turns))
			for i, t := range turns {
				out.Conversation.Turns[i] = protocol.Turn{Role: t.GetRole(), Content: t.GetContent()}
			}
		}
	}
	if ms := r.GetModelResponses(); len(ms) > 0 {
		out.ModelResponses = make([]protocol.ModelResponse, len(ms))
		for i, m := range ms {
			gm := protocol.ModelResponse{ID: m.GetId(), Text: m.GetText(), Error: m.GetError(), StopReason: m.GetStopReason()}
			if es := m.GetEmbeddings(); len(es) > 0 {
				gm.Embeddings = make([]protocol.Embedding, len(es))
				for j, e := range es {
					gm.Embeddings[j] = protocol.Embedding{Vector: nilIfEmpty(e.GetVector())}
				}
			}
			out.ModelResponses[i] = gm
		}
	}
	return out
}

// ToProtoProcessResponse converts a protocol.ProcessResponse to its protobuf message, to send.
func ToProtoProcessResponse(r *protocol.ProcessResponse) *pluginv1.ProcessResponse {
	if r == nil {
		return nil
	}
	out := &pluginv1.ProcessResponse{Error: r.Error, State: r.State}
	if len(r.Annotations) > 0 {
		out.Annotations = make([]*pluginv1.Annotation, len(r.Annotations))
		for i, a := range r.Annotations {
			pa := &pluginv1.Annotation{Field: a.Field, Label: a.Label}
			if len(a.Items) > 0 {
				pa.Items = make([]*pluginv1.Item, len(a.Items))
				for j, it := range a.Items {
					pa.Items[j] = &pluginv1.Item{Name: it.Name, Attrs: nilIfEmptyMap(it.Attrs)}
				}
			}
			out.Annotations[i] = pa
		}
	}
	if len(r.ModelCalls) > 0 {
		out.ModelCalls = make([]*pluginv1.ModelCall, len(r.ModelCalls))
		for i, c := range r.ModelCalls {
			pc := &pluginv1.ModelCall{Id: c.ID, Model: c.Model, System: c.System, MaxTokens: c.MaxTokens,
				Temperature: c.Temperature, SchemaJson: c.SchemaJSON, Kind: c.Kind}
			if len(c.Messages) > 0 {
				pc.Messages = make([]*pluginv1.Message, len(c.Messages))
				for j, m := range c.Messages {
					pc.Messages[j] = &pluginv1.Message{Role: m.Role, Content: m.Content}
				}
			}
			out.ModelCalls[i] = pc
		}
	}
	return out
}

// FromProtoProcessResponse converts a received protobuf message to a protocol.ProcessResponse.
func FromProtoProcessResponse(r *pluginv1.ProcessResponse) *protocol.ProcessResponse {
	if r == nil {
		return nil
	}
	out := &protocol.ProcessResponse{Error: r.GetError(), State: r.GetState()}
	if as := r.GetAnnotations(); len(as) > 0 {
		out.Annotations = make([]protocol.Annotation, len(as))
		for i, a := range as {
			ga := protocol.Annotation{Field: a.GetField(), Label: a.GetLabel()}
			if items := a.GetItems(); len(items) > 0 {
				ga.Items = make([]protocol.Item, len(items))
				for j, it := range items {
					ga.Items[j] = protocol.Item{Name: it.GetName(), Attrs: nilIfEmptyMap(it.GetAttrs())}
				}
			}
			out.Annotations[i] = ga
		}
	}
	if cs := r.GetModelCalls(); len(cs) > 0 {
		out.ModelCalls = make([]protocol.ModelCall, len(cs))
		for i, c := range cs {
			gc := protocol.ModelCall{ID: c.GetId(), Model: c.GetModel(), System: c.GetSystem(), MaxTokens: c.GetMaxTokens(),
				Temperature: c.GetTemperature(), SchemaJSON: c.GetSchemaJson(), Kind: c.GetKind()}
			if ms := c.GetMessages(); len(ms) > 0 {
				gc.Messages = make([]protocol.Message, len(ms))
				for j, m := range ms {
					gc.Messages[j] = protocol.Message{Role: m.GetRole(), Content: m.GetContent()}
				}
			}
			out.ModelCalls[i] = gc
		}
	}
	return out
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
