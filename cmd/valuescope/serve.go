package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/explore"
)

func init() { commands = append(commands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var o explore.Options
	var addr string
	cmd := &cobra.Command{
		Use:   "serve RUN [RUN...]",
		Short: "Explore runs in a local web app: from every number to the conversations behind it",
		Long: "Serves the runs (opened read-only; a run still being written may be served) at --addr,\n" +
			"loopback by default: each field's values, the taxonomy tree, the heatmaps of residuals\n" +
			"with their numbers (the report's, under the privacy floor), and with --text, from any\n" +
			"value, cluster, label or heatmap cell the list of its conversations, each conversation\n" +
			"whole with its annotations and their evidence highlighted, search by text and filters by\n" +
			"metadata, and for runs over the same conversations (a model A/B) both runs' annotations\n" +
			"side by side and the list of conversations where they disagree. Without --text only the\n" +
			"aggregate numbers are served (no conversation's text, ID or annotations): the default,\n" +
			"so that serving a run over private logs shows nothing under the floor unless asked.\n" +
			"The URLs are stable and may be shared; each page is also JSON under /api.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			defer ln.Close()
			// The explorer refuses a Host header that is not this address.
			o.Addr = ln.Addr().String()
			e, err := explore.Open(ctx, a, o)
			if err != nil {
				return err
			}
			defer e.Close()
			mode := "aggregate-only (--text shows the conversations)"
			if o.Text {
				mode = "with the conversations"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %d runs, %s, at http://%s/\n", len(a), mode, ln.Addr())
			if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is reachable from other machines\n", ln.Addr())
			}
			srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
				if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				// Stopping is how serve ends: nothing to say, exit 130.
				return quietStop{exitInterrupted}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	f.BoolVar(&o.Text, "text", false, "serve the conversations (text, IDs, annotations), not only the aggregate numbers")
	f.StringVar(&o.Report.Tree, "tree", "", "reference taxonomy (the paper's values_tree.csv layout) instead of the run's own")
	f.IntVar(&o.Report.Top, "top", 20, "values per list and heatmap")
	f.IntVar(&o.Report.MaxContexts, "max-contexts", 30, "contexts per heatmap (the most frequent)")
	return cmd
}
