package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/wasmbuild"
	"github.com/valuescope/valuescope/plugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func init() { commands = append(commands, newPluginsCmd) }

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List, describe and build extractor, classifier and namer plugins",
		Long: "Plugins are named in configs and here as builtin:NAME, a path to a .wasm module,\n" +
			"or grpc:COMMAND ARGS... (a subprocess). See sdk/ABI.md to write one.",
	}
	cmd.AddCommand(newPluginsListCmd(), newPluginsDescribeCmd(), newPluginsBuildCmd())
	return cmd
}

// pluginRow is one plugin as `plugins list --json` prints it.
type pluginRow struct {
	Ref string `json:"ref"`
	protocol.Manifest
	SHA256 string `json:"sha256,omitempty"`
}

func describe(ctx context.Context, ref string) (pluginRow, error) {
	p, info, err := plugin.Load(ctx, ref, plugin.Options{Instances: 1})
	if err != nil {
		return pluginRow{}, err
	}
	p.Close()
	return pluginRow{Ref: ref, Manifest: info.Manifest, SHA256: info.SHA256}, nil
}

func newPluginsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in plugins",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rows []pluginRow
			for _, b := range plugins.All {
				row, err := describe(cmd.Context(), "builtin:"+b.Name)
				if err != nil {
					return err
				}
				rows = append(rows, row)
			}
			if asJSON {
				return printJSON(cmd, rows)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "REF\tVERSION\tKIND\tFIELD\tDESCRIPTION")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Ref, r.Version, r.Kind, r.Field, firstLine(r.Description))
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newPluginsDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe REF",
		Short: "Load a plugin and print its manifest as JSON",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, refs []string) error {
			row, err := describe(cmd.Context(), refs[0])
			if err != nil {
				return err
			}
			return printJSON(cmd, row)
		},
	}
}

func newPluginsBuildCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Rebuild the built-in plugins' Wasm modules from source (run in the source tree)",
		Long: "Compiles each built-in plugin to plugins/wasm/NAME.wasm. Builds are reproducible:\n" +
			"with --check nothing is written, and the command fails when a committed module\n" +
			"differs from what its source builds to.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := moduleRoot()
			if err != nil {
				return err
			}
			tmp, err := os.MkdirTemp("", "valuescope-build")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			var stale []string
			for _, b := range plugins.All {
				out := filepath.Join(tmp, b.Name+".wasm")
				if err := wasmbuild.Build(cmd.Context(), root, b.Package, out, ""); err != nil {
					return err
				}
				built, _ := os.ReadFile(out)
				dest := filepath.Join(root, filepath.FromSlash(b.File()))
				old, _ := os.ReadFile(dest)
				switch {
				case bytes.Equal(built, old):
					fmt.Fprintf(cmd.OutOrStdout(), "%s: up to date (%d bytes)\n", b.File(), len(built))
				case check:
					stale = append(stale, b.File())
					fmt.Fprintf(cmd.OutOrStdout(), "%s: differs from its source's build\n", b.File())
				default:
					if err := os.WriteFile(dest, built, 0o644); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: built (%d bytes)\n", b.File(), len(built))
				}
			}
			if len(stale) > 0 {
				return fmt.Errorf("%d built-in module(s) out of date: run valuescope plugins build and commit %s", len(stale), strings.Join(stale, " "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check that the committed modules match their source")
	return cmd
}

// moduleRoot finds the valuescope source tree the command runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("plugins build needs the go command: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("plugins build runs inside the valuescope source tree (no go.mod here)")
	}
	b, err := os.ReadFile(mod)
	if err != nil || !bytes.Contains(b, []byte("module github.com/valuescope/valuescope\n")) {
		return "", fmt.Errorf("%s is not valuescope's go.mod", mod)
	}
	return filepath.Dir(mod), nil
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
