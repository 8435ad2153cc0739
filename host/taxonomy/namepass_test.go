package taxonomy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/host/privacy"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// The name floor counts distinct conversations and users, as every output
// does: a value extracted many times from a few conversations, or seen in
// many conversations of one user, names no cluster.
func TestNamePassCountsConversationsAndUsers(t *testing.T) {
	var convs []analysistest.Conv
	for i := range 12 {
		c := analysistest.Conv{ID: fmt.Sprint("c", i), Text: "hi", Meta: map[string]any{"user_id": fmt.Sprint("u", i)}}
		switch {
		case i < 2: // 2 conversations, each extracting it many times
			c.Values = []string{"repeated", "Repeated", "repeated", "repeated", "repeated", "repeated"}
		case i < 8:
			c.Values = []string{"common"}
		}
		if i >= 8 { // 4 conversations of one user
			c.Meta["user_id"] = "one user"
			c.Values = []string{"one user's"}
		}
		convs = append(convs, c)
	}
	dir := t.TempDir()
	analysistest.Write(t, dir, convs)
	r, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pass, err := taxonomy.NamePass(t.Context(), r, "ai_values", privacy.Floor{MinConversations: 3, MinUsers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"common": true, "repeated": false, "one user's": false} {
		if got := pass(taxonomy.Key(key)); got != want {
			t.Errorf("NamePass(%q) = %v, want %v", key, got, want)
		}
	}
	if _, err := taxonomy.NamePass(t.Context(), r, "no_such_field", privacy.Default); err == nil {
		t.Error("unknown field accepted")
	}
}
