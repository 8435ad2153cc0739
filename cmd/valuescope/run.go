package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/run"
)

func init() { commands = append(commands, newRunCmd) }

func newRunCmd() *cobra.Command {
	var o run.Options
	var quiet, verbose bool
	var shard string
	cmd := &cobra.Command{
		Use:   "run CONFIG",
		Short: "Run a config's stages over its dataset into a run folder (resumes an interrupted run)",
		Long: "Reads the dataset, runs the configured stages in order (classifiers may filter,\n" +
			"extractors add items) and writes the run folder: store, exports and manifest.\n" +
			"Interrupted (Ctrl-C, kill, crash), the same command finishes the run: nothing done\n" +
			"is lost or redone. Changing a stage's plugin, config, prompt or model redoes that\n" +
			"stage and the ones after it. --dataset runs the same stages over another dataset\n" +
			"(a cross-dataset run; give it its own --out). --shard i/N runs one part of the\n" +
			"conversations in a folder of its own, on as many machines as there are shards;\n" +
			"valuescope merge then joins the shards' folders into one run.\n\n" +
			"Every plugin's own output (stderr, a Wasm module's stdout) goes to RUN/plugins.log,\n" +
			"and to the terminal too with --verbose.\n\n" +
			"Exit status:\n" +
			"  0    the run finished and every stage succeeded for every conversation\n" +
			"  1    an error (a config, plugin or dataset that cannot be used, a failing store)\n" +
			"  2    a usage error\n" +
			"  3    the run finished, but some stage failed for some conversations (errors.csv;\n" +
			"       --retry-errors redoes them)\n" +
			"  4    the run stopped early: a stage failed for more than [run] max_failure_share\n" +
			"       (default 0.5) of its conversations; what was done is kept and exported\n" +
			"  130  interrupted (Ctrl-C, SIGTERM); the same command resumes",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := loadConfig(a[0])
			if err != nil {
				return err
			}
			for _, f := range []struct{ flag, env string }{{"model", "VALUESCOPE_MODEL"}, {"base-url", "VALUESCOPE_BASE_URL"}} {
				if v := os.Getenv(f.env); v != "" && !cmd.Flags().Changed(f.flag) {
					// Said, since it changes what the run asks (and a resumed
					// run's stages, which are then redone).
					fmt.Fprintf(cmd.ErrOrStderr(), "--%s %s (from $%s)\n", f.flag, v, f.env)
				}
			}
			if shard != "" {
				if o.Shard, err = dataset.ParseShard(shard); err != nil {
					return usageError{fmt.Errorf("--shard: %w", err)}
				}
			}
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo // the plugins' own lines among them
			}
			o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if !quiet {
				total := int64(max(o.Limit, o.Sample, cfg.Dataset.Limit))
				if o.Shard.Count > 1 {
					total /= int64(o.Shard.Count) // about: the shard's share
				}
				o.Progress = progressReporter(stderr, total)
			}
			o.Plan = func(plans []pipeline.StagePlan) {
				// Said when a resumed run redoes something, before it does.
				if !slices.ContainsFunc(plans, func(p pipeline.StagePlan) bool { return p.Status != "kept" }) {
					return
				}
				for _, p := range plans {
					fmt.Fprintln(stderr, p)
				}
			}
			res, err := run.Execute(ctx, cfg, o)
			var failed *pipeline.StageFailedError
			switch {
			case errors.Is(err, context.Canceled):
				if !quiet {
					fmt.Fprintln(stderr) // end the progress bar's line
				}
				if !res.Started {
					return statusError{exitInterrupted, fmt.Errorf("interrupted before any conversation was processed (%s); the same command starts the run", res.Dir)}
				}
				return statusError{exitInterrupted, fmt.Errorf("interrupted: %d conversations done and stored in %s; run the same command again to resume",
					res.Progress.Done+res.Progress.Skipped, res.Dir)}
			case errors.As(err, &failed):
				summary(cmd.OutOrStdout(), res)
				return statusError{exitStopped, fmt.Errorf("stopped early: %w; what was done is kept and exported (%s); fix the stage, then run the same command with --retry-errors",
					failed, filepath.Join(res.Dir, "errors.csv"))}
			case err != nil:
				return err
			}
			summary(cmd.OutOrStdout(), res)
			if res.Report != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", res.Report)
				writeTaxonomy(cmd.OutOrStdout(), res.Taxonomy)
			}
			if n := res.Manifest.Counts.Total(); n > 0 {
				return statusError{exitStageErrors, fmt.Errorf("the run finished with %d stage errors (%s); see %s; --retry-errors redoes them",
					n, byStage(res.Manifest.Counts.Errors), filepath.Join(res.Dir, "errors.csv"))}
			}
			return nil
		},
	}
	f := cmd.Flags()

	f.StringSliceVar(&o.Dataset, "dataset", nil, "run over this dataset instead of the config's (files, folders, globs, hf://OWNER/NAME[@REVISION][/GLOB])")
	f.StringVar(&o.Format, "format", "", "format of --dataset (default auto)")
	f.IntVar(&o.Limit, "limit", 0, "only the first N conversations")
	f.IntVar(&o.Sample, "sample", 0, "a random sample of N conversations (see --seed)")
	f.Int64Var(&o.Seed, "seed", 1, "seed of --sample")
	f.StringArrayVar(&o.Models, "model", envList("VALUESCOPE_MODEL"), "use this model id: M for the config's only model, NAME=M for [models.NAME] (repeatable; default $VALUESCOPE_MODEL)")
	f.StringArrayVar(&o.BaseURLs, "base-url", envList("VALUESCOPE_BASE_URL"), "send the model's calls to this URL (e.g. http://127.0.0.1:8000/v1): URL, or NAME=URL (repeatable; default $VALUESCOPE_BASE_URL)")
	f.StringVar(&shard, "shard", "", "run only shard i/N of the conversations (split by conversation id, as datasets --shard), into its own --out; valuescope merge joins the shards")
	f.StringVar(&o.Out, "out", "", "run folder (default: the config's run.out)")
	f.BoolVar(&o.Resume, "resume", false, "require an existing run to resume (resuming is automatic; this refuses to start a new one)")
	f.BoolVar(&o.Fresh, "fresh", false, "discard the run folder's results and start over (its cache of model answers is kept: delete the folder to drop it)")
	f.BoolVar(&o.Offline, "offline", false, "answer every model call from the cache, and read hf:// datasets from the Hub's cache: replay a run without calling any API")
	f.StringSliceVar(&o.CacheFrom, "cache-from", nil, "also reuse the model answers cached in these run folders or store files (repeat, or comma-separated)")
	f.BoolVar(&o.RetryErrors, "retry-errors", false, "redo the stages that failed for some conversations in an earlier invocation")
	f.StringArrayVar(&o.Reask, "reask", nil, "ask this stage's model calls again, replacing their cached answers, and redo it and the stages after it (repeatable)")
	f.BoolVar(&o.NoReport, "no-report", false, "do not write report.html at the end of the run")
	f.BoolVar(&quiet, "quiet", false, "no progress output")
	f.BoolVarP(&verbose, "verbose", "v", false, "show the plugins' own output (always in RUN/plugins.log) and the run's notes on stderr")
	return cmd
}

// envList is a flag's default from the environment: the variable's value
// as one item, or none when it is unset or empty.
func envList(name string) []string {
	if v := os.Getenv(name); v != "" {
		return []string{v}
	}
	return nil
}

// summary prints what a run did: its counts, model usage and folder.
func summary(w io.Writer, res *run.Result) {
	p := res.Progress
	fmt.Fprintf(w, "%d conversations (%d done now, %d already done), %d stage errors, %s, in %s\n",
		p.Conversations, p.Done, p.Skipped, res.Manifest.Counts.Total(), setAside(p.BadRecords, res.Manifest.Counts.Duplicates), p.Elapsed.Round(time.Millisecond))
	if len(res.Manifest.ModelUsage) > 0 {
		fmt.Fprintf(w, "models: %s\n", model.Summary(res.Manifest.ModelUsage))
	}
	fmt.Fprintf(w, "run folder: %s\n", res.Dir)
}

// setAside is "12 bad records set aside (3 of them duplicate
// conversations)": the duplicates are bad records the pipeline sets aside.
func setAside(bad, duplicates int64) string {
	if duplicates == 0 {
		return fmt.Sprintf("%d bad records set aside", bad)
	}
	return fmt.Sprintf("%d bad records set aside (%d of them duplicate conversations, listed in errors.csv)", bad, duplicates)
}

// byStage is "values 8, task 1": the stages with errors, most first.
func byStage(errs map[string]int64) string {
	names := slices.Collect(maps.Keys(errs))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(errs[b], errs[a]), cmp.Compare(a, b)) })
	var parts []string
	for _, n := range names {
		if errs[n] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", n, errs[n]))
		}
	}
	return strings.Join(parts, ", ")
}

// estimate is the run's total and the time left. The total is known
// (--limit, --sample) or scaled from how far reading is through the
// dataset's bytes; what is left is the total less what is done, by this
// invocation or an earlier one, at the rate this invocation does it (the
// conversations an earlier one did are skipped in no time, and those read
// but in flight are not done). "" until there is something to go by.
func estimate(p pipeline.Progress, total int64) string {
	if p.Finished || p.Done == 0 || p.Elapsed <= 0 {
		return ""
	}
	if total <= 0 {
		if p.DatasetSize <= 0 || p.DatasetRead <= 0 {
			return ""
		}
		total = int64(float64(p.Conversations) * float64(p.DatasetSize) / float64(p.DatasetRead))
	}
	left := max(total-p.Skipped-p.Done, 0)
	eta := time.Duration(float64(p.Elapsed) * float64(left) / float64(p.Done)).Round(time.Second)
	return fmt.Sprintf("about %d in all, %s left", total, eta)
}

// progressReporter shows a progress bar on a terminal and a log line every
// ten seconds otherwise. total is 0 when unknown (a streamed dataset).
func progressReporter(w io.Writer, total int64) func(pipeline.Progress) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if total == 0 {
			total = -1
		}
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("conversations"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("conv"),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionShowElapsedTimeOnFinish(),
		)
		return func(p pipeline.Progress) {
			desc := fmt.Sprintf("conversations (%d errors, %d bad records)", p.Errors, p.BadRecords)
			if est := estimate(p, total); est != "" {
				desc += "; " + est
			}
			if p.Models != "" {
				desc += "; " + p.Models
			}
			bar.Describe(desc)
			bar.Set64(p.Done + p.Skipped)
			if p.Finished {
				bar.Finish()
			}
		}
	}
	var last time.Time
	return func(p pipeline.Progress) {
		if time.Since(last) < 10*time.Second && !p.Finished {
			return
		}
		last = time.Now()
		rate := float64(p.Done) / p.Elapsed.Seconds()
		est := estimate(p, total)
		if est != "" {
			est = ", " + est
		}
		fmt.Fprintf(w, "progress: %d conversations read, %d done now (%.0f/s), %d already done, %d errors, %d bad records%s\n",
			p.Conversations, p.Done, rate, p.Skipped, p.Errors, p.BadRecords, est)
		if p.Models != "" {
			fmt.Fprintf(w, "progress: models: %s\n", p.Models)
		}
	}
}
