package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/store"
)

// Identity is what decides a stage's output, part by part. Its Fingerprint
// is the stage's; the parts are kept in the run store too, so that a resumed
// run can say what changed in a stage it redoes.
type Identity struct {
	// Plugin is the reference as configured, SHA256 and Version what the
	// loaded plugin is (package plugin's Info).
	Plugin  string `json:"plugin"`
	SHA256  string `json:"sha256,omitempty"`
	Version string `json:"version,omitempty"`
	// Config is the stage's config table as JSON; Prompt the SHA-256 of its
	// prompt ("" without one).
	Config string `json:"config"`
	Prompt string `json:"prompt_sha256,omitempty"`
	// Model is the model's provider, base URL and id, NUL-separated.
	Model string   `json:"model,omitempty"`
	Keep  []string `json:"keep,omitempty"`
}

// Fingerprint hashes the parts, in the order run folders have always been
// fingerprinted in (a run made before Identity resumes without redoing).
func (id Identity) Fingerprint() string {
	return Fingerprint(id.Plugin, id.SHA256, id.Version, id.Config, id.Prompt, id.Model, strings.Join(id.Keep, "\x00"))
}

// Changes says what differs from was, one phrase a part: "plugin
// builtin:values changed: sha256 1a2b3c4d… → 5e6f7a8b…", "config changed".
func (id Identity) Changes(was Identity) []string {
	var out []string
	if id.Plugin != was.Plugin {
		out = append(out, fmt.Sprintf("plugin changed: %s → %s", was.Plugin, id.Plugin))
	} else {
		var what []string
		if id.Version != was.Version {
			what = append(what, fmt.Sprintf("version %s → %s", orNone(was.Version), orNone(id.Version)))
		}
		if id.SHA256 != was.SHA256 {
			what = append(what, fmt.Sprintf("sha256 %s → %s", short(was.SHA256), short(id.SHA256)))
		}
		if len(what) > 0 {
			out = append(out, fmt.Sprintf("plugin %s changed: %s", id.Plugin, strings.Join(what, ", ")))
		}
	}
	for _, c := range []struct {
		name     string
		now, was string
	}{
		{"config", id.Config, was.Config},
		{"prompt", id.Prompt, was.Prompt},
		{"model", id.Model, was.Model},
		{"keep", strings.Join(id.Keep, "\x00"), strings.Join(was.Keep, "\x00")},
	} {
		if c.now != c.was {
			out = append(out, c.name+" changed")
		}
	}
	return out
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8] + "…"
	}
	return orNone(sha)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// StageRecord is a stage as a run stored it: its name, fingerprint and, when
// known, the parts of its identity. A run folder made before the parts were
// stored has none in its store; the run then passes what its manifest says
// (Options.Previous).
type StageRecord struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Identity    *Identity `json:"identity,omitempty"`
}

// identitiesKey is the run store's metadata key for the stages' records.
const identitiesKey = "stage_identities"

func readRecords(st *store.Store) ([]StageRecord, error) {
	v, err := st.Meta(identitiesKey)
	if err != nil || v == "" {
		return nil, err
	}
	var recs []StageRecord
	if err := json.Unmarshal([]byte(v), &recs); err != nil {
		return nil, fmt.Errorf("run store: %s: %w", identitiesKey, err)
	}
	return recs, nil
}

func writeRecords(st *store.Store, stages []Stage) error {
	recs := make([]StageRecord, len(stages))
	for i, s := range stages {
		recs[i] = StageRecord{Name: s.Name, Fingerprint: s.Fingerprint, Identity: s.Identity}
	}
	b, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	return st.SetMeta(identitiesKey, string(b))
}

// StagePlan is what a resumed run does with a stage: "kept" (Done
// conversations already done), "redone" (why in Reason), "new", or
// "dropped" (no longer configured: its results are deleted).
type StagePlan struct {
	Name   string
	Status string
	Reason string
	Done   int64
}

func (p StagePlan) String() string {
	switch p.Status {
	case "kept":
		return fmt.Sprintf("stage %s: kept (%d conversations done)", p.Name, p.Done)
	case "redone":
		return fmt.Sprintf("stage %s: redone (%s)", p.Name, p.Reason)
	case "dropped":
		return fmt.Sprintf("stage %s: dropped (no longer configured; its results are deleted)", p.Name)
	}
	return fmt.Sprintf("stage %s: %s", p.Name, p.Status)
}

// plan says, for each stage, whether the store kept its results (the
// store's invalidated list decides) and why it redoes one, from what was
// stored before (prev, in the earlier order).
func plan(stages []Stage, prev []StageRecord, invalidated []string, done store.Done) []StagePlan {
	pos := map[string]int{}
	for i, r := range prev {
		pos[r.Name] = i
	}
	var out []StagePlan
	first, firstStatus := "", "" // the first stage not kept
	for i, s := range stages {
		p := StagePlan{Name: s.Name}
		j, seen := pos[s.Name]
		switch {
		case !slices.Contains(invalidated, s.Name) && seen:
			p.Status = "kept"
			for _, d := range done {
				if _, ok := d[s.Name]; ok {
					p.Done++
				}
			}
		case !seen && !slices.Contains(invalidated, s.Name):
			p.Status = "new"
		default:
			p.Status = "redone"
			var was StageRecord
			if seen {
				was = prev[j]
			}
			switch {
			case !seen:
				p.Reason = "changed since the earlier run"
			case was.Fingerprint != s.Fingerprint:
				var changes []string
				if s.Identity != nil && was.Identity != nil {
					changes = s.Identity.Changes(*was.Identity)
				}
				if len(changes) == 0 {
					changes = []string{"its plugin, config, prompt or model changed"}
				}
				p.Reason = strings.Join(changes, "; ")
			case j != i:
				p.Reason = fmt.Sprintf("moved from position %d to %d", j+1, i+1)
			case first != "":
				p.Reason = "after stage " + first + ", which is " + firstStatus
			default:
				p.Reason = "changed since the earlier run"
			}
		}
		if p.Status != "kept" && first == "" {
			first, firstStatus = s.Name, p.Status
		}
		out = append(out, p)
	}
	for _, name := range invalidated {
		if !slices.ContainsFunc(stages, func(s Stage) bool { return s.Name == name }) {
			out = append(out, StagePlan{Name: name, Status: "dropped"})
		}
	}
	return out
}
