package conformance_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/valuescope/valuescope/conformance"
)

// Run certifies a plugin and returns the report: here a built-in one; a
// .wasm file or "grpc:COMMAND ARGS..." works the same way.
func ExampleRun() {
	r := conformance.Run(context.Background(), "builtin:response-type", conformance.Options{
		ThroughputTime: -1, // skip the throughput measurement
	})
	fmt.Println(r.Manifest.Name, "ok:", r.OK(), "failed:", r.FailedChecks())
	// Output:
	// response-type ok: true failed: []
}

// Test runs the kit inside a plugin's own go test, one subtest per check.
// This example does not run: it shows the test function a plugin author
// writes, around a plugin built to my-plugin.wasm.
func ExampleTest() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T) in the plugin's _test.go
		r := conformance.Test(t, "my-plugin.wasm", conformance.Options{})
		if !r.OK() {
			r.WriteText(os.Stderr, true)
		}
	}
}
