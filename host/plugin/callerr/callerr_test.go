package callerr_test

import (
	"errors"
	"fmt"
	"testing"

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
