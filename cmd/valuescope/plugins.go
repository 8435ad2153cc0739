package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
		Short: "Rebuild the built-in plugins' Wasm module from source (run in the source tree)",
		Long: "Compiles the built-in plugins into one module, " + plugins.Module + ", and records each\n" +
			"one's source digest (what a run's stage fingerprint uses) in " + plugins.SourcesFile + ".\n" +
			"Builds are reproducible: with --check nothing is written, and the command fails when\n" +
			"a committed file differs from what the source builds to.",
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
			out := filepath.Join(tmp, "builtins.wasm")
			if err := wasmbuild.Build(cmd.Context(), root, plugins.Main, out, ""); err != nil {
				return err
			}
			module, err := os.ReadFile(out)
			if err != nil {
				return err
			}
			sources, err := builtinSources(cmd.Context(), root)
			if err != nil {
				return err
			}
			var stale []string
			for _, f := range []struct {
				path  string
				built []byte
			}{{plugins.Module, module}, {plugins.SourcesFile, sources}} {
				dest := filepath.Join(root, filepath.FromSlash(f.path))
				old, _ := os.ReadFile(dest)
				switch {
				case bytes.Equal(f.built, old):
					fmt.Fprintf(cmd.OutOrStdout(), "%s: up to date (%d bytes)\n", f.path, len(f.built))
				case check:
					stale = append(stale, f.path)
					fmt.Fprintf(cmd.OutOrStdout(), "%s: differs from its source's build\n", f.path)
				default:
					if err := os.WriteFile(dest, f.built, 0o644); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: built (%d bytes)\n", f.path, len(f.built))
				}
			}
			if len(stale) > 0 {
				return fmt.Errorf("%d built-in file(s) out of date: run valuescope plugins build and commit %s", len(stale), strings.Join(stale, " "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check that the committed module and digests match their source")
	return cmd
}

// builtinSources is plugins.SourcesFile's content: each built-in's source
// digest, over its own package and what it imports of valuescope, the guest
// SDK that serves it, and the shared module's main package (which picks the
// plugin: a change there can change any built-in, so it is in all of them).
func builtinSources(ctx context.Context, root string) ([]byte, error) {
	const self = "github.com/valuescope/valuescope"
	goVersion, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOVERSION: %w", err)
	}
	mainSum, err := wasmbuild.SourceDigest(ctx, root, self+"/plugins/builtins", plugins.Main)
	if err != nil {
		return nil, err
	}
	s := plugins.Sources{Go: strings.TrimSpace(string(goVersion)), Digests: map[string]string{}}
	for _, b := range plugins.All {
		d, err := wasmbuild.SourceDigest(ctx, root, self, b.Package, self+"/sdk/wasm")
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(b.Name + "\n" + d + "\n" + mainSum))
		s.Digests[b.Name] = hex.EncodeToString(sum[:])
	}
	out, err := json.MarshalIndent(s, "", "  ")
	return append(out, '\n'), err
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
