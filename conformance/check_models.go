package conformance

import (
	"context"
	"fmt"
	"strings"
)

func (k *kit) checkModels(ctx context.Context) {
	if k.check("models").Status != "" {
		return
	}
	if k.models == nil {
		// Problems, if any, are calls made without declaring a need; the
		// hostile check adds its own below.
		return
	}
	n := min(3, len(k.corpus))
	var problems, details []string
	for _, s := range modelScenarios {
		counts := map[kind]int{}
		var first string
		var others []string
		for _, c := range k.corpus[:n] {
			o := k.annotate(ctx, k.main, c, scenarioModels(s))
			if o.kind == canceled {
				return
			}
			counts[o.kind]++
			k.record(fmt.Sprintf("model answers %q, conversation %q", s.name, c.ID), o, false)
			switch {
			case !o.failure():
			case first == "":
				first = fmt.Sprintf("conversation %q: %s", c.ID, o.describe())
			default:
				others = append(others, quote(c.ID))
			}
		}
		if first != "" {
			if len(others) > 0 {
				first += " (also conversations " + strings.Join(others, ", ") + ")"
			}
			problems = append(problems, fmt.Sprintf("model answers %q: %s", s.name, first))
		}
		details = append(details, fmt.Sprintf("%s: %s", s.name, countKinds(counts)))
	}
	if len(problems) > 0 {
		problems[0] += "; when a model answer is unusable, answer an error or ask again (a repair round)"
	}
	k.modelProblems = append(k.modelProblems, problems...)
	k.set("models", Pass, fmt.Sprintf("%d kinds of malformed or failed model answers on %d conversations each: annotations or errors, no traps", len(modelScenarios), n), details...)
}

func countKinds(counts map[kind]int) string {
	var parts []string
	for kd := annotated; kd <= canceled; kd++ {
		what := kd.String()
		switch kd {
		case annotated:
			what = "with annotations"
		case refused:
			what = "with an error"
		case undeliverable:
			what = "not sent"
		}
		if counts[kd] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[kd], what))
		}
	}
	return strings.Join(parts, ", ")
}

func (k *kit) judgeModels() {
	c := k.check("models")
	if c.Status == Skip {
		return
	}
	if len(k.modelProblems) > 0 {
		k.set("models", Fail, k.modelProblems[0], k.modelProblems[1:]...)
		return
	}
	if k.models == nil {
		k.set("models", Pass, fmt.Sprintf("needs no model, and asked for none in %d conversations", k.conversations))
	}
}

// --- hostile -------------------------------------------------------------
