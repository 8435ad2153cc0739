package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/plugins"
)

// loadConfig reads a run config with every check the host knows about.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, config.Options{
		Formats: dataset.FormatNames(),
		CheckPlugin: func(ref string) error {
			name, ok := strings.CutPrefix(ref, "builtin:")
			if !ok {
				return nil
			}
			if _, ok := plugins.Lookup(name); ok {
				return nil
			}
			return fmt.Errorf("unknown built-in plugin %q (built-in: %s)", name, strings.Join(plugins.Names(), ", "))
		},
	})
}

func init() { commands = append(commands, newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate CONFIG...",
		Short: "Check run configs: unknown keys, wrong types, missing files, unknown plugins and models, all at once",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, paths []string) error {
			failed := 0
			for _, p := range paths {
				if _, err := loadConfig(p); err != nil {
					failed++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", p)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d configs have problems", failed, len(paths))
			}
			return nil
		},
	}
}
