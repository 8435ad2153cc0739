// Command valuescope finds and analyses the values AI assistants express in
// real conversations. This file is wiring only: each subcommand lives in its
// own file and calls into host/.
//
// Exit status (README, "Exit codes"): 0 success; 1 failure; 2 usage error;
// 3 the run finished but a stage failed for some conversations; 4 the run
// stopped early because a stage failed for more than its share
// (max_failure_share); 130 interrupted (Ctrl-C, SIGTERM).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/runfolder"
)

// version is set at build time with -ldflags "-X main.version=..."; main
// hands it to runfolder, which reports it in --version and every manifest.
var version = ""

// The exit statuses, in one place (the package doc, run --help and the
// README list them).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitStageErrors = 3
	exitStopped     = 4
	exitInterrupted = 130 // 128 + SIGINT, as a shell reports a Ctrl-C
)

// statusError is an error with its own exit status.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

// quietStop is a normal stop with nothing to report (serve stopped by
// Ctrl-C or SIGTERM): its status, and no message.
type quietStop struct{ status int }

func (q quietStop) Error() string { return fmt.Sprintf("stopped (exit status %d)", q.status) }

// usageError marks an error in how the command was called (exit status 2).
type usageError struct{ error }

func usage(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// args wraps a cobra argument check so that its failures are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// commands are the subcommands; each file adds its own in an init function,
// so that adding a command touches only its file.
var commands []func() *cobra.Command

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "valuescope",
		Short:         "Find and analyse the values AI assistants express in real conversations",
		Version:       runfolder.VersionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

func main() {
	runfolder.Version = version
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs one command line and returns the exit status.
func execute(argv []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(argv)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if q, ok := err.(quietStop); ok {
		return q.status
	}
	fmt.Fprintln(stderr, "valuescope:", err)
	var ue usageError
	var se statusError
	switch {
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintln(stderr, "Run 'valuescope --help' for usage.")
		return exitUsage
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailed
}
