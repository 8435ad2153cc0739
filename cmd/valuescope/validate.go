package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/model"
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
				cfg, err := loadConfig(p)
				if err != nil {
					failed++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", p)
				for _, name := range slices.Sorted(maps.Keys(cfg.Models)) {
					if env, required := model.KeyEnv(model.FromConfig(cfg.Models[name])); required && os.Getenv(env) == "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: model %s: the environment variable %s, which should hold its API key, is not set: run will refuse it (run --offline replays cached answers without it)\n", p, name, env)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d configs have problems", failed, len(paths))
			}
			return nil
		},
	}
}
