package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/merge"
	"github.com/valuescope/valuescope/host/model"
)

func init() { commands = append(commands, newMergeCmd) }

func newMergeCmd() *cobra.Command {
	var o merge.Options
	cmd := &cobra.Command{
		Use:   "merge OUT SHARD_DIR...",
		Short: "Join the run folders of a run's shards (run --shard i/N) into one run folder",
		Long: "Copies the shards' stores (conversations, results, annotations, errors, records set\n" +
			"aside, cached model answers) into the run folder OUT, then writes its exports,\n" +
			"manifest and report: the same as one process running the whole dataset would\n" +
			"write, apart from times and paths. The shards are only read.\n\n" +
			"Refused: folders that are not the shards of one run (another config, dataset,\n" +
			"plugin, prompt or model: the message names the difference), a shard given twice,\n" +
			"a shard still being written, and, unless --partial, a missing or unfinished shard.\n" +
			"OUT is a new folder, or one an earlier merge made (replaced). A partial merge says\n" +
			"what is missing; `valuescope run CONFIG --out OUT` then finishes it in one process\n" +
			"(after which OUT is a run of its own, which a merge no longer replaces).\n\n" +
			"Exit status: 0 merged; 1 refused or failed; 2 usage error; 3 merged, but some stage\n" +
			"failed for some conversations (errors.csv; run the shards with --retry-errors and\n" +
			"merge again); 130 interrupted.",
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := merge.Merge(ctx, a[0], a[1:], o)
			if errors.Is(err, context.Canceled) {
				return statusError{exitInterrupted, fmt.Errorf("interrupted: the merge into %s is not complete (its manifest says so); run the same command again; the shards are as they were", a[0])}
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var n int64
			for _, s := range res.Shards {
				n += s.Copied.Conversations
			}
			m := res.Manifest
			fmt.Fprintf(w, "merged %d of %d shards: %d conversations, %d stage errors, %s\n",
				len(res.Shards), m.Merged.Shards, n, m.Counts.Total(), setAside(m.Counts.BadRecords, m.Counts.Duplicates))
			if len(res.Missing) > 0 || len(res.Unfinished) > 0 {
				fmt.Fprintf(w, "partial: shards missing %v, unfinished %v; merge again with every shard, or finish it with valuescope run CONFIG --out %s\n",
					res.Missing, res.Unfinished, res.Dir)
			}
			if len(m.ModelUsage) > 0 {
				fmt.Fprintf(w, "models (all shards, every invocation): %s\n", model.Summary(m.ModelUsage))
			}
			fmt.Fprintf(w, "run folder: %s\n", res.Dir)
			if res.Report != "" {
				fmt.Fprintf(w, "report: %s\n", res.Report)
				writeTaxonomy(w, res.Taxonomy)
			}
			if t := m.Counts.Total(); t > 0 {
				return statusError{exitStageErrors, fmt.Errorf("merged with %d stage errors (%s); see %s", t, byStage(m.Counts.Errors), filepath.Join(res.Dir, "errors.csv"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Partial, "partial", false, "merge what there is: missing and unfinished shards are named in the manifest")
	cmd.Flags().BoolVar(&o.NoReport, "no-report", false, "do not write report.html")
	return cmd
}
