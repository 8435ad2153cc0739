package model

import (
	"errors"
	"fmt"
	"strings"
)

// CallError is a model call that could not be made.
type CallError struct {
	Stage, Conversation, Model, CallID string
	Err                                error
}

func (e *CallError) Error() string {
	var b strings.Builder
	if e.Stage != "" {
		b.WriteString("stage " + e.Stage)
	}
	if e.Conversation != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("conversation " + e.Conversation)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "model %s", e.Model)
	if e.CallID != "" {
		fmt.Fprintf(&b, ", call %q", e.CallID)
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *CallError) Unwrap() error { return e.Err }

// ErrOffline is what every *MissError is (errors.Is).
var ErrOffline = errors.New("offline: no cached answer")

// MissError is an offline call the cache does not have.
type MissError struct{ Key string }

func (e *MissError) Error() string {
	return fmt.Sprintf("offline, and the cache has no answer for this call (cache key %s); the run being replayed never made it: were the prompt, plugin, dataset or model settings changed?", e.Key)
}

func (e *MissError) Is(target error) bool { return target == ErrOffline }

// ExhaustedError is a call that kept failing with errors worth retrying.
type ExhaustedError struct {
	Attempts int
	Err      error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("failed %d times, giving up: %v", e.Attempts, e.Err)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// permanent is a failure that is the call's answer (ModelResponse.Error).
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
