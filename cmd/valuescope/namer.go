package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/taxonomy/pluginnamer"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// namerFlags choose the namer plugin `taxonomy build` names clusters with:
// --name-plugin, --name-config and --name-prompt (the model is --name-model).
type namerFlags struct {
	ref, config, prompt string
}

func (n *namerFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&n.ref, "name-plugin", "", "name clusters with this namer plugin: builtin:NAME, a .wasm file, or grpc:COMMAND ARGS... (default with --name-model: "+pluginnamer.DefaultPlugin+")")
	f.StringVar(&n.config, "name-config", "", `the namer plugin's config table as JSON, e.g. '{"max_members": 30}'`)
	f.StringVar(&n.prompt, "name-prompt", "", "a prompt file for the namer plugin (default: its own, e.g. configs/prompts/cluster-names.md)")
}

// open loads the namer plugin when --name-plugin or --name-model asks for
// one (nil otherwise), its model calls made by caller (modelName's), and
// the built-in fallback naming any cluster it fails on. Close its Plugin.
func (n *namerFlags) open(cmd *cobra.Command, caller *model.Caller, modelName string, fallback taxonomy.Namer) (*pluginnamer.PluginNamer, error) {
	ref := n.ref
	if ref == "" && modelName == "" {
		for _, f := range []string{"name-config", "name-prompt"} {
			if cmd.Flags().Changed(f) {
				return nil, usage("--%s needs --name-plugin or --name-model", f)
			}
		}
		return nil, nil
	}
	if ref == "" {
		ref = pluginnamer.DefaultPlugin
	}
	req := protocol.ConfigureRequest{ConfigJSON: n.config}
	if n.prompt != "" {
		b, err := os.ReadFile(n.prompt)
		if err != nil {
			return nil, usage("--name-prompt: %v", err)
		}
		req.Prompt = string(b)
	}
	var models plugin.ModelCaller
	if caller != nil {
		models = caller
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	pn, err := pluginnamer.Load(cmd.Context(), ref, plugin.Options{Config: req, Log: log}, models)
	var nm *pluginnamer.NeedsModelError
	if errors.As(err, &nm) {
		return nil, usage("--name-plugin %s needs a model: give --name-model NAME (a [models] name of the run config)", ref)
	}
	if err != nil {
		return nil, err
	}
	pn.Fallback = fallback
	return pn, nil
}
