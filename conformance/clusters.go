package conformance

import (
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// A namer plugin (kind "namer", sdk/ABI.md "Namer plugins") names taxonomy
// clusters, not conversations: the kit gives it clusters instead of the
// conversation corpus, and the hostile clusters below besides the hostile
// conversations (which it must refuse with an error or answer, never trap
// on). Every check applies; outputs checks a namer's answer shape (one
// annotation with one item, whose name may be in sentence case) instead of
// normalised value names.

// Clusters is the kit's ordinary input for a namer: clusters of the shapes a
// taxonomy build sends — values at level 1, named groups above, with and
// without contrast, one member or hundreds, other languages.
func Clusters() []*protocol.Conversation {
	members := func(names ...string) []naming.Member {
		out := make([]naming.Member, len(names))
		for i, n := range names {
			out[i] = naming.Member{Name: n, Count: float64(10 * (len(names) - i)), Similarity: 0.95 - 0.02*float64(i)}
		}
		return out
	}
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("value %d of a large cluster", i+1)
	}
	return []*protocol.Conversation{
		cluster("honesty", naming.Cluster{Level: 1, Members: members("honesty", "transparency", "truthfulness", "candor", "intellectual honesty"),
			Contrast: []string{"tact", "kindness", "discretion"}}),
		cluster("safety", naming.Cluster{Level: 1, Members: members("harm prevention", "user safety", "child safety", "risk awareness"),
			Contrast: []string{"public health", "legal compliance"}}),
		cluster("no-contrast", naming.Cluster{Level: 1, Members: members("creativity", "artistic expression", "originality")}),
		cluster("one-member", naming.Cluster{Level: 1, Members: members("punctuality"), Contrast: []string{"reliability"}}),
		cluster("groups", naming.Cluster{Level: 2, Members: members("Intellectual clarity", "Epistemic humility", "Critical thinking"),
			Contrast: []string{"Emotional support", "Professional standards"}}),
		cluster("top", naming.Cluster{Level: 4, Members: members("Practical values", "Epistemic values", "Social values", "Protective values", "Personal values")}),
		cluster("large", naming.Cluster{Level: 1, Members: members(many...), Contrast: many[:20]}),
		cluster("other-languages", naming.Cluster{Level: 1, Members: members("honestidad", "transparencia", "诚实", "正直"),
			Contrast: []string{"amabilidad", "善良"}}),
	}
}

func cluster(id string, c naming.Cluster) *protocol.Conversation {
	conv, err := naming.Conversation("cluster-"+id, c)
	if err != nil {
		panic(err)
	}
	conv.Source = "conformance/clusters.json"
	return conv
}

// hostileClusterCases are unusual clusters a namer must answer (with a name
// or an error) without trapping.
func hostileClusterCases() []hostileCase {
	meta := func(id, json string) func() *protocol.Conversation {
		return func() *protocol.Conversation { return &protocol.Conversation{ID: id, MetaJSON: json} }
	}
	withNames := func(id string, contrast []string, names ...string) func() *protocol.Conversation {
		return func() *protocol.Conversation {
			c := naming.Cluster{Level: 1, Contrast: contrast}
			for _, n := range names {
				c.Members = append(c.Members, naming.Member{Name: n, Count: 1, Similarity: 0.5})
			}
			return cluster(id, c)
		}
	}
	const depth = 100_000
	ctl := "\x00\x01\x07\x1b[31m\x7f\u0085\u2028\u200b\u202e\ufeff\r"
	return []hostileCase{
		{"cluster: meta_json not JSON", meta("hostile-cluster-not-json", `{"level": 1, "members": [`)},
		{"cluster: no members", meta("hostile-cluster-no-members", `{"level": 1, "members": []}`)},
		{"cluster: wrong types", meta("hostile-cluster-types", `{"level": "one", "members": {"name": 3}, "contrast": "x"}`)},
		{"cluster: level 0", meta("hostile-cluster-level-0", `{"level": 0, "members": [{"name": "honesty"}]}`)},
		{"cluster: deep JSON nesting", meta("hostile-cluster-nesting", `{"level": 1, "members": [{"name": "honesty", "x": `+
			strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}]}`)},
		{"cluster: empty names", withNames("hostile-cluster-empty-names", []string{"", " "}, "", " \n\t ", "")},
		{"cluster: 1 MiB name", withNames("hostile-cluster-1mib", nil, strings.Repeat("honesty ", 1<<17))},
		{"cluster: 10,000 members", func() *protocol.Conversation {
			names := make([]string, 10_000)
			for i := range names {
				names[i] = fmt.Sprintf("value %d", i)
			}
			return withNames("hostile-cluster-10000", names[:1000], names...)()
		}},
		{"cluster: invalid UTF-8", meta("hostile-cluster-utf8", "{\"level\": 1, \"members\": [{\"name\": \"hon\xc3esty\"}, {\"name\": \"\xed\xa0\x80 truth\"}], \"contrast\": [\"kind\xffness\"]}")},
		{"cluster: control characters", withNames("hostile-cluster-ctl", []string{ctl}, "honesty"+ctl, ctl)},
		{"cluster: unusual scripts", withNames("hostile-cluster-scripts", []string{"👩‍👩‍👧‍👦"}, "الصدق", "Z̷̢͎̈a̶l̸g̵o̴", "𝐁𝐨𝐥𝐝 honesty", "🏳️‍🌈")},
	}
}
