package conformance

import (
	"errors"
	"fmt"
	"os"
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
	// A gRPC plugin's memory is measured by the host as a run measures it,
	// over the process and its children and every process it ran in; the
	// process's own peak is the fallback where the host measures nothing.
	if pm, ok := k.main.(interface{ PeakMemory() int64 }); ok && pm.PeakMemory() > 0 {
		hwm := pm.PeakMemory()
		mem = fmt.Sprintf("peak resident memory %d MiB of %d MiB (with its children)", hwm>>20, k.opts.MemoryLimit>>20)
		if hwm > k.opts.MemoryLimit {
			k.limitProblems = append(k.limitProblems, fmt.Sprintf("the plugin's peak resident memory, %d MiB with its children, is over the %d MiB limit", hwm>>20, k.opts.MemoryLimit>>20))
		}
	} else if pp, ok := k.main.(interface{ PID() int }); ok {
		if hwm, err := peakRSS(pp.PID()); err == nil {
			mem = fmt.Sprintf("peak resident memory %d MiB of %d MiB", hwm>>20, k.opts.MemoryLimit>>20)
			if hwm > k.opts.MemoryLimit {
				k.limitProblems = append(k.limitProblems, fmt.Sprintf("the plugin process's peak resident memory, %d MiB, is over the %d MiB limit", hwm>>20, k.opts.MemoryLimit>>20))
			}
		} else {
			mem = "memory not measured: " + err.Error()
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

// peakRSS reads a process's peak resident set size (Linux).
func peakRSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, errors.New("the plugin process is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
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
