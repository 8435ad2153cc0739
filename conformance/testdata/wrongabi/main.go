//go:build wasip1

// Command wrongabi is a broken plugin of the conformance gallery: it
// implements the Wasm ABI by hand, as a plugin in another language would,
// and says it speaks protocol version 2, which this host does not. It fails
// the manifest check.
package main

import "unsafe"

var in, out []byte

//go:wasmexport vs_abi
func vsABI() uint32 { return 2 }

//go:wasmexport vs_alloc
func vsAlloc(n uint32) uint32 {
	in = make([]byte, n+1)
	return uint32(uintptr(unsafe.Pointer(&in[0])))
}

//go:wasmexport vs_describe
func vsDescribe() uint64 {
	return emit(`{"name":"wrong-abi","version":"2.0.0","abi":2,"kind":"extractor","field":"ai_values"}`)
}

//go:wasmexport vs_configure
func vsConfigure(ptr, n uint32) uint64 { return emit(`{}`) }

//go:wasmexport vs_process
func vsProcess(ptr, n uint32) uint64 {
	return emit(`{"annotations":[{"items":[{"name":"honesty"}]}]}`)
}

func emit(s string) uint64 {
	out = []byte(s)
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}

func main() {}
