package callerr

import (
	"errors"
	"fmt"
	"time"
)

// ErrOverLimit is matched (errors.Is) by the error of a reply refused for
// one of the protocol's limits (sdk/protocol/limits.go): its size, as the
// transport refuses it, or its items, attributes or error message, as
// package plugin does. The conformance kit reports these under its limits
// check, not as a malformed or invalid reply.
var ErrOverLimit = errors.New("over a protocol limit")

// OverLimit is an error with the message msg that matches ErrOverLimit.
func OverLimit(msg string) error { return overLimit(msg) }

type overLimit string

func (e overLimit) Error() string        { return string(e) }
func (e overLimit) Is(target error) bool { return target == ErrOverLimit }

// StartTimeout is how a plugin that did not start within its start-up
// deadline fails, whichever the transport: the cause of its start-up
// context's end, and (as the Err of a call error of kind Timeout) the error
// Load returns.
type StartTimeout struct {
	D time.Duration
	// What the deadline covered, for the message.
	What string
}

func (e *StartTimeout) Error() string {
	return fmt.Sprintf("did not start within %s (%s)", e.D, e.What)
}
