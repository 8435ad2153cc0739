package conformance

import (
	"context"
	"fmt"

	"github.com/valuescope/valuescope/host/plugin"
)

func (k *kit) checkHostile(ctx context.Context) {
	defer k.judgeModels()
	if k.check("hostile").Status != "" {
		return
	}
	var problems, details []string
	counts := map[kind]int{}
	cases := hostileCases()
	if k.spec.Input == plugin.InputClusters {
		cases = append(cases, hostileClusterCases()...)
	}
	for _, hc := range cases {
		o := k.annotate(ctx, k.main, hc.conv(), k.models)
		if o.kind == canceled {
			return
		}
		counts[o.kind]++
		k.record("hostile input "+quote(hc.name), o, false)
		switch {
		case o.failure():
			problems = append(problems, fmt.Sprintf("%s: %s", hc.name, o.describe()))
		case o.kind == undeliverable:
			details = append(details, fmt.Sprintf("%s: not sent: %s", hc.name, o.msg))
		default:
			details = append(details, fmt.Sprintf("%s: %s in %s", hc.name, o.describe(), roundDuration(o.dur)))
		}
	}
	if len(problems) > 0 {
		k.set("hostile", Fail, problems[0]+"; answer unusual input with annotations or an error", append(problems[1:], details...)...)
		return
	}
	k.set("hostile", Pass, fmt.Sprintf("answered %d hostile inputs without a trap (%s)", len(cases), countKinds(counts)), details...)
}

// --- concurrency and throughput -------------------------------------------
