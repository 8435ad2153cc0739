//go:build wasip1

package wasm

import (
	"encoding/json"
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

//go:wasmexport vs_abi
func abi() uint32 { return protocol.ABI }

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
		return reply(protocol.Manifest{Description: "no plugin: call wasm.Serve from an init function"})
	}
	return reply(plugin.Manifest())
}

//go:wasmexport vs_configure
func configure(ptr, size uint32) uint64 {
	var req protocol.ConfigureRequest
	if err := request(ptr, size, &req); err != nil {
		return reply(protocol.ConfigureResponse{Error: err.Error()})
	}
	if err := plugin.Configure(req); err != nil {
		return reply(protocol.ConfigureResponse{Error: err.Error()})
	}
	return reply(protocol.ConfigureResponse{})
}

//go:wasmexport vs_process
func process(ptr, size uint32) uint64 {
	var req protocol.ProcessRequest
	if err := request(ptr, size, &req); err != nil {
		return reply(protocol.ProcessResponse{Error: err.Error()})
	}
	return reply(plugin.Process(&req))
}

type abiError string

func (e abiError) Error() string { return string(e) }

// request decodes the bytes the host wrote into the vs_alloc buffer.
func request(ptr, size uint32, v any) error {
	if size > uint32(len(in)) || (size > 0 && ptr != uint32(uintptr(unsafe.Pointer(&in[0])))) {
		return abiError("request not in the buffer vs_alloc returned")
	}
	return json.Unmarshal(in[:size], v)
}

// reply encodes v and returns its address and length packed as ptr<<32 | len.
func reply(v any) uint64 {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(protocol.ProcessResponse{Error: "encoding reply: " + err.Error()})
	}
	out = b
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}
