package conformance

import (
	"errors"
	"fmt"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
)

func (k *kit) checkLimits() {
	var slowest time.Duration
	slowID := ""
	for i, o := range k.baseline {
		if o.dur > slowest && !o.failure() {
			slowest, slowID = o.dur, k.corpus[i].ID
		}
	}
	var details []string
	mem := fmt.Sprintf("no instance ran out of its %d MiB of memory", k.opts.MemoryLimit>>20)
	// A gRPC plugin's memory is measured by the host as a run measures it:
	// over the process and its children, their proportional share, over
	// every process it ran in (Linux only: elsewhere it is 0).
	if pm, ok := k.main.(interface{ PeakMemory() int64 }); ok {
		peak := pm.PeakMemory()
		switch {
		case peak == 0:
			mem = "memory not measured (the host measures a gRPC plugin's memory on Linux only)"
		case peak > k.opts.MemoryLimit:
			k.limitProblems = append(k.limitProblems, fmt.Sprintf("the plugin's peak memory, %d MiB with its children, is over the %d MiB limit", peak>>20, k.opts.MemoryLimit>>20))
		default:
			mem = fmt.Sprintf("peak memory %d MiB of %d MiB (with its children)", peak>>20, k.opts.MemoryLimit>>20)
		}
	}
	if len(k.limitProblems) > 0 {
		k.set("limits", Fail, k.limitProblems[0], k.limitProblems[1:]...)
		return
	}
	if slowest > k.opts.Deadline/2 {
		details = append(details, fmt.Sprintf("warning: conversation %q took %s, over half the deadline", slowID, roundDuration(slowest)))
	}
	k.set("limits", Pass, fmt.Sprintf("slowest ordinary conversation %s (%q; deadline %s); %s", roundDuration(slowest), slowID, k.opts.Deadline, mem), details...)
}

// violationText is the host's reason for refusing a reply, without the
// plugin's name (the kit's reasons say which conversation it was).
func violationText(err error) string {
	var pe *plugin.PluginError
	if errors.As(err, &pe) {
		return pe.Msg
	}
	return err.Error()
}
