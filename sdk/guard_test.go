package sdk_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// A plugin's error over the protocol's limit is cut to fit (at a character
// boundary), so that the host shows the plugin's own error; before, the
// host refused such a reply as a protocol violation.
func TestGuardClipsErrors(t *testing.T) {
	long := strings.Repeat("é", protocol.MaxErrorBytes)
	f := &sdk.Func{Info: protocol.Manifest{Name: "x"}, Annotate: func(*protocol.Conversation) ([]protocol.Annotation, error) {
		return nil, errors.New(long)
	}}
	resp := f.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "c"}})
	if len(resp.Error) > protocol.MaxErrorBytes || !utf8.ValidString(resp.Error) || !strings.HasPrefix(resp.Error, "éé") || !strings.HasSuffix(resp.Error, "…") {
		t.Errorf("error of %d bytes, valid UTF-8 %v: %.40q…%q", len(resp.Error), utf8.ValidString(resp.Error), resp.Error, resp.Error[max(0, len(resp.Error)-8):])
	}
	short := "no values found"
	f.Annotate = func(*protocol.Conversation) ([]protocol.Annotation, error) { return nil, errors.New(short) }
	if resp := f.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "c"}}); resp.Error != short {
		t.Errorf("short error %q became %q", short, resp.Error)
	}
}
