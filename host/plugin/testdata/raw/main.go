// Command raw is a test plugin that implements the ABI by hand, without the
// SDK, to misbehave where the SDK would not let it. Build flags choose:
//
//	-X main.abi=2          speaks another ABI version
//	-X main.reply=garbage  answers vs_process with bytes that are not JSON
//	-X main.reply=oob      answers with a pointer outside its memory
//	-X main.reply=huge     claims a reply of 4 GiB
package main

import "unsafe"

var (
	abi   = "1"
	reply = "ok"
	in    []byte
	out   []byte
)

//go:wasmexport vs_abi
func vsABI() uint32 {
	if abi == "2" {
		return 2
	}
	return 1
}

//go:wasmexport vs_alloc
func vsAlloc(n uint32) uint32 {
	in = make([]byte, n+1)
	return uint32(uintptr(unsafe.Pointer(&in[0])))
}

//go:wasmexport vs_describe
func vsDescribe() uint64 {
	return emit(`{"name":"raw","version":"0.1.0","abi":` + abi + `,"kind":"extractor","field":"raw"}`)
}

//go:wasmexport vs_configure
func vsConfigure(ptr, n uint32) uint64 { return emit(`{}`) }

//go:wasmexport vs_process
func vsProcess(ptr, n uint32) uint64 {
	switch reply {
	case "garbage":
		return emit(`{"annotations": [{"items": not json`)
	case "oob":
		return uint64(0xFFFF0000)<<32 | 100
	case "huge":
		return 0xFFFFFFFF
	}
	return emit(`{"annotations":[{"items":[{"name":"raw"}]}]}`)
}

func emit(s string) uint64 {
	out = []byte(s)
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}

func main() {}
