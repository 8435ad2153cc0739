package protocol_test

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pluginv1 "github.com/valuescope/valuescope/sdk/proto/valuescope/plugin/v1"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// The Go types must be the .proto's messages, field for field: same names
// (as JSON tags), same kinds, nothing missing and nothing extra.
func TestMatchesProto(t *testing.T) {
	goTypes := map[string]reflect.Type{}
	for _, v := range []any{
		protocol.DescribeRequest{}, protocol.Manifest{}, protocol.ConfigureRequest{}, protocol.ConfigureResponse{},
		protocol.Turn{}, protocol.Conversation{}, protocol.ProcessRequest{}, protocol.ProcessResponse{},
		protocol.Annotation{}, protocol.Item{}, protocol.Message{}, protocol.ModelCall{},
		protocol.ModelResponse{}, protocol.Embedding{},
	} {
		goTypes[reflect.TypeOf(v).Name()] = reflect.TypeOf(v)
	}
	msgs := pluginv1.File_valuescope_plugin_v1_plugin_proto.Messages()
	if msgs.Len() != len(goTypes) {
		t.Errorf("the .proto has %d messages, the Go package %d", msgs.Len(), len(goTypes))
	}
	for i := range msgs.Len() {
		md := msgs.Get(i)
		gt, ok := goTypes[string(md.Name())]
		if !ok {
			t.Errorf("message %s has no Go type", md.Name())
			continue
		}
		byTag := map[string]reflect.StructField{}
		for j := range gt.NumField() {
			f := gt.Field(j)
			byTag[strings.Split(f.Tag.Get("json"), ",")[0]] = f
		}
		if md.Fields().Len() != len(byTag) {
			t.Errorf("%s: %d proto fields, %d Go fields", md.Name(), md.Fields().Len(), len(byTag))
		}
		for j := range md.Fields().Len() {
			fd := md.Fields().Get(j)
			f, ok := byTag[string(fd.Name())]
			if !ok {
				t.Errorf("%s.%s: no Go field tagged %q", md.Name(), fd.Name(), fd.Name())
				continue
			}
			if want := goKind(fd); f.Type.String() != want {
				t.Errorf("%s.%s: Go type %s, want %s", md.Name(), fd.Name(), f.Type, want)
			}
		}
	}
}

func goKind(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map[" + goKind(fd.MapKey()) + "]" + goKind(fd.MapValue())
	}
	var s string
	switch fd.Kind() {
	case protoreflect.StringKind:
		s = "string"
	case protoreflect.Uint32Kind:
		s = "uint32"
	case protoreflect.DoubleKind:
		s = "float64"
	case protoreflect.FloatKind:
		s = "float32"
	case protoreflect.BoolKind:
		s = "bool"
	case protoreflect.MessageKind:
		s = "protocol." + string(fd.Message().Name())
		if !fd.IsList() {
			s = "*" + s
		}
	default:
		s = "unsupported kind " + fd.Kind().String() + " (the JSON mapping must stay plain)"
	}
	if fd.IsList() {
		s = "[]" + s
	}
	return s
}

func TestManifestEqual(t *testing.T) {
	a := protocol.Manifest{Name: "x", Version: "1", ABI: 1, Kind: protocol.Extractor, Field: "ai_values", Labels: []string{}}
	b := a
	b.Labels = nil
	if !a.Equal(b) {
		t.Fatal("an empty and a nil list differ")
	}
	for _, change := range []func(*protocol.Manifest){
		func(m *protocol.Manifest) { m.Version = "2" },
		func(m *protocol.Manifest) { m.Needs = []string{protocol.NeedModel} },
		func(m *protocol.Manifest) { m.Fields = []string{"f"} },
		func(m *protocol.Manifest) { m.Description = "d" },
	} {
		c := a
		change(&c)
		if a.Equal(c) {
			t.Errorf("%+v equals %+v", c, a)
		}
	}
}
