//go:build wasip1

package wasm

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"unsafe"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var (
	plugin sdk.Plugin
	// in is the buffer vs_alloc hands out for the host to write a request
	// into; out is the last response, kept referenced so that the garbage
	// collector leaves it alone until the host has copied it.
	in, out []byte
)

// Serve registers the plugin this module serves.
func Serve(p sdk.Plugin) { plugin = p }

// Go's garbage collector cannot finish a cycle on its own inside a reactor:
// its background mark workers run only when an export blocks, which a plugin
// call never does. A cycle, once started, stays in its mark phase and every
// allocation pays a mark assist, which measured ~3x slower allocation and a
// heap that grows to the memory limit. So automatic collection is off, and
// the SDK collects between calls once gcEvery bytes were allocated since the
// last collection.
const gcEvery = 8 << 20

var (
	gcSample  = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	gcAllocAt uint64
)

func init() { debug.SetGCPercent(-1) }

// collect runs after each call, when the reply is already encoded.
func collect() {
	metrics.Read(gcSample)
	if a := gcSample[0].Value.Uint64(); a-gcAllocAt >= gcEvery {
		runtime.GC()
		gcAllocAt = a
	}
}

//go:wasmexport vs_abi
func abi() uint32 { return protocol.ABI }

// vs_encoding says this module exchanges protobuf, not JSON: in Go-compiled
// Wasm, decoding a 2 KB request costs ~12 µs as protobuf and ~60 µs as JSON.
//
//go:wasmexport vs_encoding
func encoding() uint32 { return protocol.EncodingProtobuf }

//go:wasmexport vs_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(in)) < size {
		in = make([]byte, size)
	}
	in = in[:size]
	if size == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&in[0])))
}

//go:wasmexport vs_describe
func describe() uint64 {
	if plugin == nil {
		return reply(&protocol.Manifest{Description: "no plugin: call wasm.Serve from an init function"})
	}
	m := plugin.Manifest()
	return reply(&m)
}

//go:wasmexport vs_configure
func configure(ptr, size uint32) uint64 {
	var req protocol.ConfigureRequest
	if err := request(ptr, size, &req); err != nil {
		return reply(&protocol.ConfigureResponse{Error: err.Error()})
	}
	if err := guardConfigure(req); err != nil {
		return reply(&protocol.ConfigureResponse{Error: err.Error()})
	}
	return reply(&protocol.ConfigureResponse{})
}

//go:wasmexport vs_process
func process(ptr, size uint32) uint64 {
	var req protocol.ProcessRequest
	if err := request(ptr, size, &req); err != nil {
		return reply(&protocol.ProcessResponse{Error: err.Error()})
	}
	resp := plugin.Process(&req)
	if resp == nil {
		resp = &protocol.ProcessResponse{}
	}
	r := reply(resp)
	collect()
	return r
}

type abiError string

// Error returns the message.
func (e abiError) Error() string { return string(e) }

// request decodes the bytes the host wrote into the vs_alloc buffer.
func request(ptr, size uint32, v protocol.ProtoMessage) error {
	if size > uint32(len(in)) || (size > 0 && ptr != uint32(uintptr(unsafe.Pointer(&in[0])))) {
		return abiError("request not in the buffer vs_alloc returned")
	}
	return v.UnmarshalProto(in[:size])
}

// reply encodes v and returns its address and length packed as ptr<<32 | len.
// The previous reply's buffer is reused: the host has copied it by now.
func reply(v protocol.ProtoMessage) uint64 {
	out = v.AppendProto(out[:0])
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}

// guardConfigure turns a panic in the plugin's Configure into a refusal: a
// bad config table must be an error the researcher reads, not a trap.
func guardConfigure(req protocol.ConfigureRequest) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("configure panicked: %v", p)
		}
	}()
	return plugin.Configure(req)
}
