// Package pluginnamer names taxonomy clusters with a namer plugin (sdk/ABI.md,
// "Namer plugins"). It is apart from package taxonomy so that the taxonomy,
// and what imports it (the report), does not link the plugin runtime.
package pluginnamer

import (
	"context"
	"errors"
	"fmt"
	"github.com/valuescope/valuescope/host/taxonomy"
	"slices"
	"strings"
	"sync"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// DefaultPlugin is the built-in namer plugin: a model names each
// cluster contrastively, as Clio does (plugins/namers/contrastive).
const DefaultPlugin = "builtin:contrastive-namer"

// PluginNamer names clusters with a namer plugin (sdk/ABI.md, "Namer
// plugins"), such as the built-in contrastive-namer: each cluster of a level
// goes to the plugin as one request, and the model calls the plugin asks for
// are made by Models (the model package's Caller, with its cache, limits and
// retries), through plugin.Annotate, as a run's stages do.
type PluginNamer struct {
	Plugin plugin.Plugin
	// Models performs the plugin's model calls; nil when it needs none.
	Models plugin.ModelCaller
	// Contrasts is how many nearest non-members each cluster comes with
	// (default 10; negative: none).
	Contrasts int
	// Workers is how many clusters are named at once (default 16): a
	// plugin is safe for concurrent use, and a cluster mostly waits for its
	// model calls.
	Workers int
	// MaxRounds bounds the rounds of one cluster (default
	// plugin.DefaultMaxRounds).
	MaxRounds int
	// Fallback, when set, names the clusters the plugin fails on, and
	// Failures records which and why; a level whose every cluster fails
	// still fails (the plugin or its model is broken, not one answer).
	// When nil, the first failure fails the level.
	Fallback taxonomy.Namer
	// Failures are the clusters the Fallback named, each with its error.
	Failures []string
}

// Load loads the namer plugin ref names (builtin:NAME, a .wasm
// file, or grpc:COMMAND ARGS..., as in a run config) with opts; models
// performs its model calls. Close the namer's Plugin when done.
func Load(ctx context.Context, ref string, opts plugin.Options, models plugin.ModelCaller) (*PluginNamer, error) {
	p, info, err := plugin.Load(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	m := info.Manifest
	switch {
	case m.Kind != protocol.Namer:
		p.Close()
		return nil, fmt.Errorf("plugin %s (%s) is not a namer: its kind is %q (sdk/ABI.md, \"Namer plugins\")", ref, m.Name, m.Kind)
	case models == nil && (slices.Contains(m.Needs, protocol.NeedModel) || slices.Contains(m.Needs, protocol.NeedEmbeddings)):
		p.Close()
		return nil, &NeedsModelError{Plugin: ref}
	}
	return &PluginNamer{Plugin: p, Models: models}, nil
}

// NeedsModelError is Load's error for a plugin that needs a
// model when none was given.
type NeedsModelError struct{ Plugin string }

func (e *NeedsModelError) Error() string {
	return fmt.Sprintf("namer plugin %s needs a model, and none was given", e.Plugin)
}

// Contrast implements taxonomy.Namer.
func (n *PluginNamer) Contrast() int {
	switch {
	case n.Contrasts == 0:
		return 10
	case n.Contrasts < 0:
		return 0
	}
	return n.Contrasts
}

// Name implements taxonomy.Namer.
func (n *PluginNamer) Name(ctx context.Context, cs []taxonomy.ClusterToName) ([]taxonomy.Naming, error) {
	out := make([]taxonomy.Naming, len(cs))
	errs := make([]error, len(cs))
	// Without a fallback the first failure fails the level: the other
	// clusters' model calls are spared.
	level, stop := context.WithCancel(ctx)
	defer stop()
	workers := n.Workers
	if workers <= 0 {
		workers = 16
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(cs)) {
		wg.Go(func() {
			for i := range next {
				if out[i], errs[i] = n.name(level, i, len(cs), cs[i]); errs[i] != nil && n.Fallback == nil {
					stop()
				}
			}
		})
	}
	for i := range cs {
		if level.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var failed []int
	for i, err := range errs {
		if err == nil {
			continue
		}
		if n.Fallback == nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		failed = append(failed, i)
	}
	switch {
	case len(failed) == 0:
		return out, nil
	case n.Fallback == nil:
		return nil, errs[failed[0]]
	case len(failed) == len(cs):
		return nil, fmt.Errorf("every cluster failed, e.g. %w", errs[failed[0]])
	}
	sub := make([]taxonomy.ClusterToName, len(failed))
	for j, i := range failed {
		sub[j] = cs[i]
	}
	fb, err := n.Fallback.Name(ctx, sub)
	if err != nil {
		return nil, err
	}
	for j, i := range failed {
		out[i] = fb[j]
		n.Failures = append(n.Failures, errs[i].Error())
	}
	return out, nil
}

// name runs one cluster through the plugin.
func (n *PluginNamer) name(ctx context.Context, i, k int, c taxonomy.ClusterToName) (taxonomy.Naming, error) {
	fail := func(err error) (taxonomy.Naming, error) {
		return taxonomy.Naming{}, fmt.Errorf("level %d cluster %d of %d (%s): %w", c.Level, i+1, k, memberSample(c), err)
	}
	conv, err := naming.Conversation(fmt.Sprintf("level-%d-cluster-%d", c.Level, i+1), c)
	if err != nil {
		return fail(err)
	}
	// The model client records the answers it gives for the cluster, and
	// a cluster the plugin fails on has them rejected (Settle), so that a
	// later build asks for its name again rather than replaying them.
	ctx = model.WithConversation(ctx, conv.ID)
	anns, err := plugin.Annotate(ctx, n.Plugin, conv, n.Models, n.MaxRounds)
	var name, desc string
	if err == nil {
		name, desc, err = plugin.ClusterName(n.Plugin.Manifest(), anns)
	}
	if s, ok := n.Models.(settler); ok {
		if serr := s.Settle(ctx, conv.ID, err); serr != nil {
			return fail(serr)
		}
	}
	if err != nil {
		return fail(err)
	}
	return taxonomy.Naming{Name: name, Description: desc}, nil
}

// settler is the model package's Caller seen as pipeline.Settler.
type settler interface {
	Settle(ctx context.Context, conversation string, err error) error
}

// memberSample names a cluster, which has no name yet, by its first members.
func memberSample(c taxonomy.ClusterToName) string {
	var names []string
	for _, m := range c.Members[:min(3, len(c.Members))] {
		names = append(names, fmt.Sprintf("%q", truncateName(m.Name, 40)))
	}
	s := strings.Join(names, ", ")
	if len(c.Members) > 3 {
		s += fmt.Sprintf(", ... %d members", len(c.Members))
	}
	return s
}

func truncateName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
