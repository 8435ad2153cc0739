package callerr_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin/callerr"
)

// The text is the kind's word and the cause, the words messages have always
// quoted; errors.As and errors.Is find it through wrapping.
func TestError(t *testing.T) {
	words := map[callerr.Kind]string{
		callerr.Trap: "trap", callerr.Exited: "exit", callerr.Timeout: "deadline", callerr.Canceled: "canceled",
		callerr.Crashed: "crash", callerr.HandlerFailed: "rpc", callerr.Malformed: "malformed reply",
	}
	cause := errors.New("what happened")
	for k, w := range words {
		err := fmt.Errorf("p: conversation c: %w", &callerr.Error{Plugin: "p", Conversation: "c", Kind: k, Err: cause})
		if want := "p: conversation c: " + w + ": what happened"; err.Error() != want {
			t.Errorf("%v: %q, want %q", k, err, want)
		}
		var ce *callerr.Error
		if !errors.As(err, &ce) || ce.Kind != k || !errors.Is(err, cause) || !errors.Is(err, &callerr.Error{Kind: k}) {
			t.Errorf("%v: not found in %v", k, err)
		}
		for other := range words {
			if other != k && errors.Is(err, &callerr.Error{Kind: other}) {
				t.Errorf("%v matches %v", k, other)
			}
		}
	}
}

// The marks are found through the transports' wrapping.
func TestMarks(t *testing.T) {
	err := fmt.Errorf("p: conversation c: %w", &callerr.Error{Kind: callerr.Malformed, Err: callerr.OverLimit("reply of 9 MiB is over the 8 MiB limit")})
	if !errors.Is(err, callerr.ErrOverLimit) || !strings.HasSuffix(err.Error(), "malformed reply: reply of 9 MiB is over the 8 MiB limit") {
		t.Fatalf("%v", err)
	}
	if errors.Is(fmt.Errorf("x: %w", errors.New("over the limit")), callerr.ErrOverLimit) {
		t.Fatal("a message that says 'limit' is not the mark")
	}
	var st *callerr.StartTimeout
	err = fmt.Errorf("p: %w", &callerr.Error{Kind: callerr.Timeout, Err: &callerr.StartTimeout{D: time.Second, What: "the handshake"}})
	if !errors.As(err, &st) || st.D != time.Second || !strings.Contains(err.Error(), "deadline: did not start within 1s (the handshake)") {
		t.Fatalf("%v", err)
	}
}
