// Package callerr is the one error both plugin transports (host/plugin/wasm
// and host/plugin/grpc) return for a call the plugin did not complete. It is
// a package of its own because host/plugin imports the transports; use it as
// plugin.CallError.
package callerr

// Kind is how a call failed.
type Kind int

const (
	// Trap: a Wasm instance trapped (unreachable, out-of-bounds access,
	// stack overflow; a Go plugin's fatal runtime error ends this way).
	Trap Kind = iota + 1
	// Exited: a Wasm module called proc_exit (a Go plugin does on a fatal
	// error such as running out of its memory limit).
	Exited
	// Timeout: the call overran the plugin's deadline.
	Timeout
	// Canceled: the caller's context ended; the plugin is not to blame.
	Canceled
	// Crashed: a gRPC plugin's process died or the connection to it broke.
	Crashed
	// HandlerFailed: a gRPC plugin's handler failed (an exception in its
	// server, say); the process goes on.
	HandlerFailed
	// Malformed: a reply that does not decode as the protocol says, or is
	// over the size limit.
	Malformed
)

// String is the word an Error's text begins with. These are the words the
// transports have always used, and messages users see quote them.
func (k Kind) String() string {
	switch k {
	case Trap:
		return "trap"
	case Exited:
		return "exit"
	case Timeout:
		return "deadline"
	case Canceled:
		return "canceled"
	case Crashed:
		return "crash"
	case HandlerFailed:
		return "rpc"
	case Malformed:
		return "malformed reply"
	}
	return "call failed"
}

// Error is a call the plugin did not complete. Its text is the failure alone
// ("trap: wasm error: unreachable", "deadline: did not finish within 10s");
// the transports wrap it with the plugin's name and the conversation.
type Error struct {
	// Plugin is the plugin's name as the host labels it (its reference, or
	// its manifest's name).
	Plugin string
	// Conversation is the conversation the call was for; "" for a call made
	// while loading (describe, configure).
	Conversation string
	Kind         Kind
	// Err is what happened, in the transport's words.
	Err error
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &callerr.Error{Kind: k}) match any call error of
// that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && t.Plugin == "" && t.Conversation == "" && t.Kind == e.Kind
}
