package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk/protocol"
)

func (k *kit) checkDeterminism(ctx context.Context) {
	if k.check("determinism").Status != "" {
		return
	}
	p, info, err := k.loader(ctx, k.ref, k.pluginOptions(k.opts.Config, 1))
	if err != nil {
		k.set("determinism", Fail, "a second instance of the plugin did not load: "+err.Error())
		return
	}
	defer k.closePlugin(p)
	if !info.Manifest.Equal(k.manifest) {
		k.set("determinism", Fail, fmt.Sprintf("a second instance describes itself differently: %+v, then %+v", k.manifest, info.Manifest))
		return
	}
	var problems []string
	compared := 0
	// Another instance, the conversations in reverse order, each twice: an
	// output that depends on the instance's history, a counter, the clock or
	// map order shows.
	for i := len(k.baseline) - 1; i >= 0; i-- {
		want := k.baseline[i]
		if want.kind == canceled || want.kind == undeliverable {
			continue
		}
		for rep := range 2 {
			got := k.annotate(ctx, p, k.corpus[i], k.models)
			if got.kind == canceled {
				return
			}
			compared++
			if got.signature() != want.signature() {
				how := "on another instance"
				if rep == 1 {
					how = "when run again on the same instance"
				}
				problems = append(problems, fmt.Sprintf("conversation %q: a different output %s: %s", k.corpus[i].ID, how, diff(want, got)))
				break
			}
		}
	}
	if len(problems) > 0 {
		k.set("determinism", Fail, problems[0]+"; a plugin must be a pure function of conversation, config and model answers (no counters, clock, randomness or map order)", problems[1:]...)
		return
	}
	k.set("determinism", Pass, fmt.Sprintf("the same output for %d runs of %d conversations on a second instance, in reverse order and repeated", compared, len(k.baseline)))
}

// diff says how two outcomes differ, at the first difference.
func diff(a, b outcome) string {
	if a.kind != annotated || b.kind != annotated {
		return fmt.Sprintf("first %s, then %s", a.describe(), b.describe())
	}
	if len(a.anns) != len(b.anns) {
		return fmt.Sprintf("first %d annotations, then %d", len(a.anns), len(b.anns))
	}
	for i := range a.anns {
		x, y := a.anns[i], b.anns[i]
		switch {
		case x.Field != y.Field:
			return fmt.Sprintf("annotation %d: field %q, then %q", i, x.Field, y.Field)
		case x.Label != y.Label:
			return fmt.Sprintf("annotation %d: label %q, then %q", i, x.Label, y.Label)
		case len(x.Items) != len(y.Items):
			return fmt.Sprintf("annotation %d: %d items, then %d", i, len(x.Items), len(y.Items))
		}
		for j := range x.Items {
			p, q := x.Items[j], y.Items[j]
			if p.Name != q.Name {
				return fmt.Sprintf("annotation %d item %d: %q, then %q (items %s, then %s)", i, j, p.Name, q.Name, names(x.Items), names(y.Items))
			}
			pa, _ := json.Marshal(p.Attrs)
			qa, _ := json.Marshal(q.Attrs)
			if string(pa) != string(qa) {
				return fmt.Sprintf("annotation %d item %q: attributes %s, then %s", i, p.Name, truncate(string(pa), 100), truncate(string(qa), 100))
			}
		}
	}
	return "the outputs differ"
}

func names(items []protocol.Item) string {
	var ns []string
	for _, it := range items {
		ns = append(ns, it.Name)
	}
	return truncate("["+strings.Join(ns, ", ")+"]", 120)
}

// --- models --------------------------------------------------------------
