package naming_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestRoundTrip(t *testing.T) {
	c := naming.Cluster{Level: 2, Members: []naming.Member{{Name: "Honesty", Count: 3, Similarity: 0.9}}, Contrast: []string{"Care"}}
	conv, err := naming.Conversation("level-2-cluster-1", c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"level":2,"members":[{"name":"Honesty","count":3,"similarity":0.9}],"contrast":["Care"]}`; conv.MetaJSON != want || len(conv.Turns) != 0 {
		t.Fatalf("meta_json %s", conv.MetaJSON)
	}
	got, err := naming.Read(conv)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("%+v %v", got, err)
	}
	// Unknown keys are ignored.
	if _, err := naming.Read(&protocol.Conversation{MetaJSON: `{"level":1,"members":[{"name":"a","extra":1}],"later":true}`}); err != nil {
		t.Error(err)
	}
	for meta, want := range map[string]string{
		"":                                     "carries no cluster",
		`{"model":"gpt-4"}`:                    "no members",
		`[1]`:                                  "not a cluster",
		`{"level":0,"members":[{"name":"a"}]}`: "level is 0",
	} {
		if _, err := naming.Read(&protocol.Conversation{MetaJSON: meta}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", meta, err, want)
		}
	}
	if _, err := naming.Read(nil); err != naming.ErrNoCluster {
		t.Error(err)
	}
	want := []protocol.Annotation{{Field: "cluster_name", Items: []protocol.Item{{Name: "N", Attrs: map[string]string{"description": "D"}}}}}
	if got := naming.Answer("N", "D"); !reflect.DeepEqual(got, want) {
		t.Errorf("%+v", got)
	}
}
