package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/hub"
)

func init() { commands = append(commands, newDatasetsCmd) }

func newDatasetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "Inspect and convert chat datasets",
		Long: "Datasets are read in their published layouts; the format of each file is detected from its content.\n" +
			"A path may name a Hugging Face dataset, hf://OWNER/NAME[@REVISION][/GLOB], read through the Hub's cache\n" +
			"(see datasets pull).\n\nFormats:\n" +
			formatHelp(),
	}
	cmd.AddCommand(newInspectCmd(), newConvertCmd(), newPullCmd())
	return cmd
}

func formatHelp() string {
	var b strings.Builder
	for _, f := range dataset.Formats() {
		fmt.Fprintf(&b, "  %-14s %s\n", f.Name, f.Layout)
	}
	return b.String()
}

// readFlags are the flags every command that reads a dataset shares.
type readFlags struct {
	format string
	strict bool
	shard  string
}

func (f *readFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", "auto", "dataset format: auto or one of "+strings.Join(dataset.FormatNames(), ", "))
	cmd.Flags().BoolVar(&f.strict, "strict", false, "stop at the first bad record instead of setting it aside")
	cmd.Flags().StringVar(&f.shard, "shard", "", "read only shard i/N of the conversations (split by conversation id)")
}

// open opens the dataset at paths, hf:// paths pulled into the Hub's cache
// first.
func (f *readFlags) open(cmd *cobra.Command, paths []string) (*dataset.Reader, error) {
	paths, _, err := resolveHub(cmd, paths)
	if err != nil {
		return nil, err
	}
	opts := dataset.Options{Format: f.format, Strict: f.strict}
	if f.shard != "" {
		sh, err := dataset.ParseShard(f.shard)
		if err != nil {
			return nil, usageError{err}
		}
		opts.Shard = sh
	}
	if opts.Format != "auto" {
		if _, err := dataset.LookupFormat(opts.Format); err != nil {
			return nil, usageError{err}
		}
	}
	return dataset.Open(paths, opts)
}

func newInspectCmd() *cobra.Command {
	var rf readFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect PATH...",
		Short: "Count the conversations, turns, roles, languages, models and bad records of a dataset",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, paths []string) error {
			r, err := rf.open(cmd, paths)
			if err != nil {
				return err
			}
			defer r.Close()
			s, err := dataset.Summarize(r)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), s.String())
			return err
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func newConvertCmd() *cobra.Command {
	var rf readFlags
	var out, to string
	cmd := &cobra.Command{
		Use:   "convert PATH... --out FILE",
		Short: "Write a dataset as normalised JSONL or Parquet (one conversation per record)",
		Long: "Write any supported dataset as valuescope's normalised conversations: JSONL\n" +
			`({"id","source","turns":[{"role","content","meta"}],"meta"}) or Parquet.` + "\n" +
			"Bad records are set aside and listed on stderr; the output can be read back with --format valuescope.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, paths []string) error {
			if out == "" {
				return usage("--out is required")
			}
			if to == "" {
				to = "jsonl"
				if strings.HasSuffix(out, ".parquet") {
					to = "parquet"
				}
			}
			r, err := rf.open(cmd, paths)
			if err != nil {
				return err
			}
			defer r.Close()
			w, err := dataset.NewWriter(out, to)
			if err != nil {
				return usageError{err}
			}
			var n, bad int64
			for {
				c, err := r.Next()
				if err == io.EOF {
					break
				}
				if dataset.IsBad(err) {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), "bad record set aside:", err)
					continue
				}
				if err == nil {
					err = w.Write(c)
				}
				if err != nil {
					return errors.Join(err, w.Abort())
				}
				n++
			}
			if err := w.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d conversations to %s (%d bad records set aside)\n", n, out, bad)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "output file")
	cmd.Flags().StringVar(&to, "to", "", "output format: jsonl or parquet (default: from the file name)")
	return cmd
}

// resolveHub pulls the hf:// paths among paths (with the client the
// environment configures, HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE...) and
// returns the local files in their place; Ctrl-C stops a download,
// leaving the part fetched for the next call to resume.
func resolveHub(cmd *cobra.Command, paths []string) ([]string, []*hub.Snapshot, error) {
	if !hub.HasURL(paths) {
		return paths, nil, nil
	}
	for _, p := range paths {
		if hub.IsURL(p) {
			if _, err := hub.Parse(p); err != nil {
				return nil, nil, usageError{err}
			}
		}
	}
	ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := hub.FromEnv()
	c.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	return c.Resolve(ctx, paths, dataset.IsDataFile)
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func newPullCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pull hf://OWNER/NAME[@REVISION][/GLOB]...",
		Short: "Download Hugging Face datasets into the Hub's cache (what inspect and run read hf:// paths from)",
		Long: "Resolves each revision (default main) to its commit, lists the files the pattern selects\n" +
			"(default: every .jsonl, .json, .parquet file, optionally .gz or .zst; \"**\" crosses folders)\n" +
			"and downloads those not cached yet, checking each one's size and hash (SHA-256 for LFS files,\n" +
			"the git blob id for others). The cache is the official Hugging Face layout, shared with its\n" +
			"tools: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. A download broken off\n" +
			"(or killed) is resumed by the next call. HF_ENDPOINT names another Hub (a mirror), HF_TOKEN\n" +
			"the access token gated and private datasets need, HF_HUB_OFFLINE=1 reads the cache only.\n" +
			"Prints each file's cached path.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, paths []string) error {
			for _, p := range paths {
				if !hub.IsURL(p) {
					return usage("%q is not an hf:// dataset path", p)
				}
			}
			_, snaps, err := resolveHub(cmd, paths)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(snaps)
			}
			for _, s := range snaps {
				var size int64
				for _, f := range s.Files {
					size += f.Size
					fmt.Fprintln(cmd.OutOrStdout(), f.Local)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: commit %s, %d files (%d bytes), %d downloaded (%d bytes), the others cached\n",
					s.URL, s.Commit, len(s.Files), size, s.Fetched, s.FetchedBytes)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the resolved snapshots (repo, commit, files with hashes) as JSON")
	return cmd
}
