package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/conformance"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func init() { commands = append(commands, newConformanceCmd) }

func newConformanceCmd() *cobra.Command {
	var (
		asJSON, verbose, showLog bool
		config, promptFile       string
		memoryMiB                int64
		answers                  []string
		o                        conformance.Options
	)
	var long strings.Builder
	long.WriteString("Loads a plugin the way a run does (builtin:NAME, a .wasm file, or grpc:COMMAND ARGS...)\n" +
		"and certifies it before it touches real data. The checks:\n\n")
	for _, c := range conformance.Checks {
		fmt.Fprintf(&long, "  %-13s %s\n", c.Name, c.Doc)
	}
	long.WriteString("\nPrints a line per check (PASS, FAIL or SKIP, with the reason) and a summary; --json\n" +
		"prints the report as JSON. Exit status 0 when no check fails, 1 when one does.\n" +
		"See conformance/README.md.")
	cmd := &cobra.Command{
		Use:   "conformance REF",
		Short: "Certify a plugin: manifest, config, outputs, determinism, model rounds, hostile input, limits",
		Long:  long.String(),
		Example: "  valuescope conformance builtin:cue-values\n" +
			"  valuescope conformance my-plugin.wasm --config '{\"threshold\": 0.5}'\n" +
			"  valuescope conformance \"grpc:/usr/bin/python3 sdk/examples/python/keyword_values.py\" --json",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if config != "" {
				var table map[string]any
				if err := json.Unmarshal([]byte(config), &table); err != nil || table == nil {
					return usage("--config takes a JSON object (the stage's [stages.config] table): %q", config)
				}
			}
			o.Config = protocol.ConfigureRequest{ConfigJSON: config}
			if promptFile != "" {
				b, err := os.ReadFile(promptFile)
				if err != nil {
					return usage("--prompt: %v", err)
				}
				o.Config.Prompt = string(b)
			}
			if memoryMiB < 0 || o.Instances < 0 || o.Deadline < 0 || o.StartTimeout < 0 {
				return usage("--memory-limit, --instances, --deadline and --start-timeout take a positive value")
			}
			o.MemoryLimit = memoryMiB << 20
			if len(answers) > 0 {
				o.Models = conformance.AnswersModels(answers)
			}
			if showLog {
				o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			r := conformance.Run(cmd.Context(), a[0], o)
			if asJSON {
				if _, err := cmd.OutOrStdout().Write(r.JSON()); err != nil {
					return err
				}
			} else if err := r.WriteText(cmd.OutOrStdout(), verbose); err != nil {
				return err
			}
			if !r.OK() {
				return fmt.Errorf("%s failed %d of %d checks: %s", a[0], r.Failed, len(r.Checks), strings.Join(r.FailedChecks(), ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every check's details, not only the failures'")
	f.BoolVar(&showLog, "log", false, "copy the plugin's stderr to stderr")
	f.StringVar(&config, "config", "", "the plugin's config table as a JSON object (default {})")
	f.StringVar(&promptFile, "prompt", "", "a prompt file handed to the plugin with its config")
	f.DurationVar(&o.Deadline, "deadline", 10*time.Second, "deadline of one call")
	f.DurationVar(&o.StartTimeout, "start-timeout", 30*time.Second, "deadline of a plugin's start-up (a Wasm module's instantiation, _initialize, vs_describe and vs_configure)")
	f.Int64Var(&memoryMiB, "memory-limit", 256, "memory limit of a Wasm instance (and of a gRPC plugin with its children), in MiB")
	f.IntVar(&o.Instances, "instances", 4, "instances (or concurrent calls) in the concurrency and throughput checks")
	f.DurationVar(&o.ThroughputTime, "throughput-time", time.Second, "how long throughput is measured")
	f.StringArrayVar(&answers, "model-answer", nil, "a model answer your plugin understands, for the ordinary rounds of a plugin that needs a model (repeatable; default: an instance of each call's schema_json)")
	return cmd
}
