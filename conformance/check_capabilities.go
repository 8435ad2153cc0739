package conformance

func (k *kit) checkCapabilities() {
	err := k.resolve()
	switch {
	case k.transport == "grpc":
		k.set("capabilities", Skip, "not applicable: a gRPC plugin is a subprocess, not sandboxed: the host cannot see or limit what it does; review its code, or ship it as Wasm")
		return
	case err != nil || k.module == nil:
		k.set("capabilities", Skip, "not run: no module to inspect (see manifest)")
		return
	}
	problems, notes, refused, err := inspectWasm(k.module)
	k.refusedImports = refused
	switch {
	case err != nil:
		k.set("capabilities", Fail, "cannot read the module: "+err.Error())
	case len(problems) > 0:
		k.set("capabilities", Fail, problems[0], append(problems[1:], notes...)...)
	default:
		k.set("capabilities", Pass, "imports only WASI preview 1 and exports protocol v1", notes...)
	}
}
