//go:build unix && !linux

package grpc_test

import "testing"

// withoutCgroups: there are none but on Linux.
func withoutCgroups(*testing.T) {}
