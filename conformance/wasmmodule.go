package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The capabilities check reads a module's import and export sections itself,
// without compiling it: the host refuses a module importing anything but WASI
// at load, and the kit must still say which import is the problem.

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	Module, Name string
	Kind         string // "function", "table", "memory", "global"
	Sig          string // a function's signature, "(i32,i32)->i32"
}

func (i wasmImport) String() string {
	s := i.Module + "." + i.Name
	if i.Kind != "function" {
		s += " (" + i.Kind + ")"
	}
	return s
}

// wasmModule is what the capabilities check needs of a module.
type wasmModule struct {
	Imports []wasmImport
	Exports map[string]string // name -> kind
	Funcs   map[string]string // exported function name -> signature
}

var errNotWasm = errors.New("not a WebAssembly module (no \\0asm header)")

// parseWasm reads the type, import, function and export sections.
func parseWasm(b []byte) (*wasmModule, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errNotWasm
	}
	if v := b[4:8]; !bytes.Equal(v, []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("WebAssembly binary version %v, want 1", v)
	}
	r := &reader{b: b[8:]}
	m := &wasmModule{Exports: map[string]string{}, Funcs: map[string]string{}}
	var types []string
	var funcTypes []uint32 // type index of each function, imported ones first
	var exportedFuncs = map[string]uint32{}
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		s := &reader{b: body}
		switch id {
		case 1: // types
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				if form := s.byte(); form != 0x60 {
					s.fail(fmt.Errorf("type %d: form 0x%x, want 0x60", i, form))
				}
				params, results := s.valtypes(), s.valtypes()
				types = append(types, "("+strings.Join(params, ",")+")->"+sigResults(results))
			}
		case 2: // imports
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				imp := wasmImport{Module: s.name(), Name: s.name()}
				switch kind := s.byte(); kind {
				case 0:
					imp.Kind = "function"
					t := s.u32()
					funcTypes = append(funcTypes, t)
					if int(t) < len(types) {
						imp.Sig = types[t]
					}
				case 1:
					imp.Kind = "table"
					s.byte()
					s.limits()
				case 2:
					imp.Kind = "memory"
					s.limits()
				case 3:
					imp.Kind = "global"
					s.byte()
					s.byte()
				default:
					s.fail(fmt.Errorf("import %d: unknown kind 0x%x", i, kind))
				}
				m.Imports = append(m.Imports, imp)
			}
		case 3: // functions
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				funcTypes = append(funcTypes, s.u32())
			}
		case 7: // exports
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				name := s.name()
				kind := s.byte()
				idx := s.u32()
				m.Exports[name] = [...]string{"function", "table", "memory", "global", "tag"}[min(int(kind), 4)]
				if kind == 0 {
					exportedFuncs[name] = idx
				}
			}
		}
		if s.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, s.err)
		}
	}
	for name, idx := range exportedFuncs {
		if int(idx) < len(funcTypes) && int(funcTypes[idx]) < len(types) {
			m.Funcs[name] = types[funcTypes[idx]]
		}
	}
	return m, nil
}

func sigResults(r []string) string {
	switch len(r) {
	case 0:
		return "()"
	case 1:
		return r[0]
	}
	return "(" + strings.Join(r, ",") + ")"
}

// reader decodes the binary format's primitives; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errors.New("truncated"))
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("malformed LEB128 integer"))
	return 0
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail(errors.New("truncated"))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	if flags := r.byte(); flags&1 != 0 {
		r.u32()
		r.u32()
	} else {
		r.u32()
	}
}

func (r *reader) valtypes() []string {
	n := r.u32()
	var out []string
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, valtype(r.byte()))
	}
	return out
}

func valtype(b byte) string {
	switch b {
	case 0x7f:
		return "i32"
	case 0x7e:
		return "i64"
	case 0x7d:
		return "f32"
	case 0x7c:
		return "f64"
	case 0x7b:
		return "v128"
	case 0x70:
		return "funcref"
	case 0x6f:
		return "externref"
	}
	return fmt.Sprintf("0x%x", b)
}

// wasiFunctions is what the host grants: WASI preview 1 as wazero provides
// it, function name -> signature.
var wasiFunctions = sync.OnceValues(func() (map[string]string, error) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	c, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, def := range c.ExportedFunctions() {
		out[name] = signature(def)
	}
	return out, nil
})

func signature(def api.FunctionDefinition) string {
	var params, results []string
	for _, t := range def.ParamTypes() {
		params = append(params, api.ValueTypeName(t))
	}
	for _, t := range def.ResultTypes() {
		results = append(results, api.ValueTypeName(t))
	}
	return "(" + strings.Join(params, ",") + ")->" + sigResults(results)
}

// protocolExports are the exports protocol v1 defines (sdk/ABI.md), with
// their signatures; vs_encoding is optional.
var protocolExports = map[string]string{
	"vs_abi":       "()->i32",
	"vs_encoding":  "()->i32",
	"vs_alloc":     "(i32)->i32",
	"vs_describe":  "()->i64",
	"vs_configure": "(i32,i32)->i64",
	"vs_process":   "(i32,i32)->i64",
}

// inspectWasm judges a module's imports and exports: nil problems when it
// imports only WASI preview 1 functions (with WASI's signatures) and exports
// the protocol's functions with theirs. notes are informational; refused
// lists the imports the host refuses at load (a module other than WASI's).
func inspectWasm(b []byte) (problems, notes, refused []string, err error) {
	m, err := parseWasm(b)
	if err != nil {
		return nil, nil, nil, err
	}
	wasi, err := wasiFunctions()
	if err != nil {
		return nil, nil, nil, err
	}
	used := 0
	for _, imp := range m.Imports {
		switch {
		case imp.Module != wasi_snapshot_preview1.ModuleName:
			refused = append(refused, imp.String())
			problems = append(problems, fmt.Sprintf("imports %s: the host provides only %s (WASI preview 1), so it refuses to load this module; "+
				"remove the import (in Go, a //go:wasmimport directive or a package that uses one)", imp, wasi_snapshot_preview1.ModuleName))
		case imp.Kind != "function":
			problems = append(problems, fmt.Sprintf("imports %s: WASI preview 1 exports only functions", imp))
		default:
			want, ok := wasi[imp.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("imports %s, which is not a WASI preview 1 function", imp))
			case imp.Sig != want:
				problems = append(problems, fmt.Sprintf("imports %s with signature %s; WASI preview 1's is %s", imp, imp.Sig, want))
			default:
				used++
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range protocolExports {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		want := protocolExports[name]
		kind, ok := m.Exports[name]
		switch {
		case !ok && name == "vs_encoding":
		case !ok:
			problems = append(problems, fmt.Sprintf("does not export %s %s (sdk/ABI.md)", name, want))
		case kind != "function":
			problems = append(problems, fmt.Sprintf("exports %s as a %s, want a function %s", name, kind, want))
		case m.Funcs[name] != "" && m.Funcs[name] != want:
			problems = append(problems, fmt.Sprintf("exports %s with signature %s, want %s", name, m.Funcs[name], want))
		}
	}
	if kind, ok := m.Exports["memory"]; !ok || kind != "memory" {
		problems = append(problems, "does not export its linear memory as \"memory\" (sdk/ABI.md): WASI preview 1 functions read and write the module's memory by that name; "+
			"toolchains export it by default (wasm-ld, Go), a hand-written module must say (memory (export \"memory\") 1)")
	}
	if _, ok := m.Exports["_start"]; ok {
		notes = append(notes, "exports _start: a WASI command, not a reactor; the host never calls it (build Go with -buildmode=c-shared)")
	}
	if len(problems) == 0 {
		notes = append(notes, fmt.Sprintf("imports %d WASI preview 1 functions and nothing else", used))
	}
	return problems, notes, refused, nil
}
