package grpc_test

import (
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// fill sets every field of v, recursively, to a value that is not zero and
// differs from field to field, so that a conversion that drops or swaps a
// field shows.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Uint32:
		v.SetUint(uint64(*n))
	case reflect.Float64, reflect.Float32:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func filled[T any]() T {
	var v T
	n := 0
	fill(reflect.ValueOf(&v).Elem(), &n)
	return v
}

// allSet fails when a message (or one nested in it) leaves a field unset.
func allSet(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			t.Errorf("%s.%s is not set", path, fd.Name())
			continue
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := m.Get(fd).List()
			for j := range l.Len() {
				allSet(t, fmt.Sprintf("%s.%s[%d]", path, fd.Name(), j), l.Get(j).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			allSet(t, path+"."+string(fd.Name()), m.Get(fd).Message())
		}
	}
}

// wire sends m through protobuf's encoding, as gRPC does.
func wire[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	m := filled[protocol.Manifest]()
	pm := sdkgrpc.ToProtoManifest(m)
	allSet(t, "Manifest", pm.ProtoReflect())
	if got := sdkgrpc.FromProtoManifest(wire(t, pm)); !reflect.DeepEqual(got, m) {
		t.Errorf("Manifest:\n got %+v\nwant %+v", got, m)
	}

	cr := filled[protocol.ConfigureRequest]()
	pcr := sdkgrpc.ToProtoConfigureRequest(cr)
	allSet(t, "ConfigureRequest", pcr.ProtoReflect())
	if got := sdkgrpc.FromProtoConfigureRequest(wire(t, pcr)); got != cr {
		t.Errorf("ConfigureRequest: got %+v, want %+v", got, cr)
	}

	cs := filled[protocol.ConfigureResponse]()
	pcs := sdkgrpc.ToProtoConfigureResponse(cs)
	allSet(t, "ConfigureResponse", pcs.ProtoReflect())
	if got := sdkgrpc.FromProtoConfigureResponse(wire(t, pcs)); got != cs {
		t.Errorf("ConfigureResponse: got %+v, want %+v", got, cs)
	}

	req := filled[protocol.ProcessRequest]()
	preq := sdkgrpc.ToProtoProcessRequest(&req)
	allSet(t, "ProcessRequest", preq.ProtoReflect())
	if got := sdkgrpc.FromProtoProcessRequest(wire(t, preq)); !reflect.DeepEqual(*got, req) {
		t.Errorf("ProcessRequest:\n got %+v\nwant %+v", got, req)
	}

	resp := filled[protocol.ProcessResponse]()
	presp := sdkgrpc.ToProtoProcessResponse(&resp)
	allSet(t, "ProcessResponse", presp.ProtoReflect())
	if got := sdkgrpc.FromProtoProcessResponse(wire(t, presp)); !reflect.DeepEqual(*got, resp) {
		t.Errorf("ProcessResponse:\n got %+v\nwant %+v", got, resp)
	}
}

// Empty slices and maps come out nil either way, as from the wire; nil
// messages stay nil.
func TestEmpty(t *testing.T) {
	req := &protocol.ProcessRequest{Conversation: &protocol.Conversation{Turns: []protocol.Turn{}}, ModelResponses: []protocol.ModelResponse{}}
	got := sdkgrpc.FromProtoProcessRequest(sdkgrpc.ToProtoProcessRequest(req))
	if want := (&protocol.ProcessRequest{Conversation: &protocol.Conversation{}}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	resp := &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "x", Attrs: map[string]string{}}}}}}
	gotResp := sdkgrpc.FromProtoProcessResponse(sdkgrpc.ToProtoProcessResponse(resp))
	if want := (&protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "x"}}}}}); !reflect.DeepEqual(gotResp, want) {
		t.Errorf("got %+v, want %+v", gotResp, want)
	}
	if sdkgrpc.ToProtoProcessRequest(nil) != nil || sdkgrpc.FromProtoProcessResponse(nil) != nil {
		t.Error("nil in, non-nil out")
	}
}
