package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/store"
)

// checkReask refuses an Options.Reask that names no stage with a model,
// before anything is made.
func checkReask(cfg *config.Config, opts Options) error {
	if len(opts.Reask) == 0 {
		return nil
	}
	if opts.Offline {
		return errors.New("--reask asks the model again, which --offline forbids")
	}
	var names []string
	for _, sc := range cfg.Stages {
		names = append(names, sc.Name)
	}
	for _, name := range opts.Reask {
		i := slices.Index(names, name)
		switch {
		case i < 0:
			return fmt.Errorf("--reask %s: no such stage (stages: %s)", name, strings.Join(names, ", "))
		case cfg.Stages[i].Model == "":
			return fmt.Errorf("--reask %s: the stage has no model, so no answer to ask again", name)
		}
	}
	return nil
}

// startReasks begins the reasks opts asks for and resumes those an
// interrupted run left under way (the store keeps them): each such stage,
// and every stage after it, loses its results, to be redone, and the
// stage's calls are made by a reasking caller (model.Caller.Reask). It
// returns the stages re-asked, for finishReasks.
func startReasks(ctx context.Context, st *store.Store, stages []pipeline.Stage, opts Options) ([]string, error) {
	pending, err := st.Reasks(ctx)
	if err != nil {
		return nil, fmt.Errorf("run store: %w", err)
	}
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	var out []string
	for _, name := range pending {
		if !slices.Contains(names, name) && name != namesScope {
			// A stage no longer configured: nothing left to re-ask.
			if err := st.FinishReask(ctx, name); err != nil {
				return nil, fmt.Errorf("run store: %w", err)
			}
		}
	}
	for i, s := range stages {
		asked := slices.Contains(opts.Reask, s.Name)
		if !asked && !slices.Contains(pending, s.Name) {
			continue
		}
		k, ok := s.Models.(*model.Caller)
		if !ok {
			if err := st.FinishReask(ctx, s.Name); err != nil { // its model is gone
				return nil, fmt.Errorf("run store: %w", err)
			}
			continue
		}
		resumed, err := st.StartReask(ctx, s.Name, names[i:])
		if err != nil {
			return nil, fmt.Errorf("run store: %w", err)
		}
		msg := "re-asking the stage's model calls; it and the stages after it are redone"
		if resumed {
			msg = "going on re-asking the stage's model calls (an earlier invocation began)"
		}
		opts.Log.Info(msg, slog.String("stage", s.Name))
		stages[i].Models = k.Reask()
		out = append(out, s.Name)
	}
	return out, nil
}

// finishReasks ends the reasks of a run that finished: their calls are
// answered by the new answers from now on.
func finishReasks(ctx context.Context, st *store.Store, stages []string) error {
	for _, s := range stages {
		if err := st.FinishReask(context.WithoutCancel(ctx), s); err != nil {
			return fmt.Errorf("run store: %w", err)
		}
	}
	return nil
}

// namesScope is the reask of the cluster names `taxonomy build
// --reask-names` asks for, which it keeps in the run store beside the
// stages' (its callers are the "taxonomy" stage's).
const namesScope = "taxonomy"
