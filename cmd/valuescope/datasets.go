package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/valuescope/valuescope/host/dataset"
)

func init() { commands = append(commands, newDatasetsCmd) }

func newDatasetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "Inspect and convert chat datasets",
		Long: "Datasets are read in their published layouts; the format of each file is detected from its content.\n\nFormats:\n" +
			formatHelp(),
	}
	cmd.AddCommand(newInspectCmd(), newConvertCmd())
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

func (f *readFlags) open(paths []string) (*dataset.Reader, error) {
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
			r, err := rf.open(paths)
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
			r, err := rf.open(paths)
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
