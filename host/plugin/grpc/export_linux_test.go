package grpc

import "testing"

// WithoutCgroups makes the test's plugin processes start without a cgroup
// (the /proc fallback), as where the cgroup v2 hierarchy is not writable.
func WithoutCgroups(t *testing.T) {
	was := cgroupsOff.Load()
	cgroupsOff.Store(true)
	t.Cleanup(func() { cgroupsOff.Store(was) })
}

// UsesCgroups says whether plugin processes start in cgroups here.
func UsesCgroups() bool { return cgroupParent() != "" && !cgroupsOff.Load() }
