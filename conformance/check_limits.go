package conformance

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
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

// overLimits reports whether a reply is over one of the protocol's limits on
// counts and sizes (sdk/protocol/limits.go): the error message's length,
// the items of the reply, an item's attributes, an attribute's key or
// value, a label. The host refuses such a reply (plugin.CheckResponse says
// why); the kit reports it under limits, not as an invalid output, since
// a plugin that writes 60 MB where a sentence goes has a limit to learn.
func overLimits(resp *protocol.ProcessResponse) bool {
	if len(resp.Error) > protocol.MaxErrorBytes || len(resp.Annotations) > protocol.MaxItems {
		return true
	}
	items := 0
	for _, a := range resp.Annotations {
		items += len(a.Items)
		if items > protocol.MaxItems || len(a.Label) > protocol.MaxLabelBytes {
			return true
		}
		for _, it := range a.Items {
			if len(it.Attrs) > protocol.MaxAttrs {
				return true
			}
			for k, v := range it.Attrs {
				if len(k) > protocol.MaxAttrKeyBytes || len(v) > protocol.MaxAttrValueBytes {
					return true
				}
			}
		}
	}
	return false
}

// replyTooBig reports whether a malformed reply is one the transport refused
// for its size (over protocol.MaxReplyBytes): the Wasm backend says "over
// the ... limit", gRPC "larger than max". TestGalleryLimits pins the words.
func replyTooBig(ce *plugin.CallError) bool {
	msg := ce.Err.Error()
	return strings.Contains(msg, "over the") && strings.Contains(msg, "limit") || strings.Contains(msg, "larger than max")
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
