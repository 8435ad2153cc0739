package conformance

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
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
	if pp, ok := k.main.(interface{ PID() int }); ok {
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
