package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/plugins"
)

// Method says how one stage's fields were made: by which plugin, how (its
// manifest's description) and, for a built-in the host knows
// (plugins.Builtin), whether it is an offline heuristic and which
// languages it reads.
type Method struct {
	Stage       string   `json:"stage"`
	Plugin      string   `json:"plugin"`
	Fields      []string `json:"fields"`
	Description string   `json:"description,omitempty"`
	Model       string   `json:"model,omitempty"`
	Heuristic   bool     `json:"heuristic"`
	// Languages the plugin reads (ISO 639-1; empty: not declared).
	Languages []string `json:"languages,omitempty"`
	// Uncovered counts the run's conversations in languages the plugin
	// does not read (see Coverage; 0 when Languages is empty or the
	// dataset could not be read).
	Uncovered int `json:"uncovered"`
}

// Coverage is what the report found of the conversations' languages and
// turns, by reading the run's dataset again (the store keeps no text).
type Coverage struct {
	Methods []Method `json:"methods"`
	// Read: the run's conversations found in its dataset files.
	Read int `json:"read"`
	// LanguageSource says where Languages come from.
	LanguageSource string `json:"language_source,omitempty"`
	// Languages counts the conversations read per language or script.
	Languages []Count `json:"languages"`
	// NoAssistant counts conversations without an assistant turn: nothing
	// to extract an AI value from.
	NoAssistant int `json:"no_assistant"`
	// Note says why the dataset was not read, or what did not match.
	Note string `json:"note,omitempty"`
	// Warnings are shown at the top of the page.
	Warnings []string `json:"warnings"`
}

// methods reads the stages of a run's manifest.
func methods(m *runfolder.Manifest) []Method {
	var out []Method
	for _, st := range m.Stages {
		pm := st.Plugin.Manifest
		me := Method{Stage: st.Name, Plugin: st.Plugin.Ref, Description: pm.Description, Model: st.Model}
		if pm.Field != "" {
			me.Fields = append(me.Fields, pm.Field)
		}
		me.Fields = append(me.Fields, pm.Fields...)
		if name, ok := strings.CutPrefix(st.Plugin.Ref, "builtin:"); ok {
			if b, ok := plugins.Lookup(name); ok {
				me.Heuristic, me.Languages = b.Heuristic, b.Languages
			}
		}
		out = append(out, me)
	}
	return out
}

// buildCoverage reads the run's dataset (as its manifest names it) for the
// languages and turns of the run's conversations and says what the
// stages' plugins could not read.
func buildCoverage(ctx context.Context, r *analysis.Run, m *runfolder.Manifest) (*Coverage, error) {
	var cv *Coverage
	err := r.Find(ctx, func(find func(source, id string) (*analysis.Conversation, error)) error {
		var err error
		cv, err = coverageOf(ctx, find, r.Len(), r.HasMetaValue(MetaLanguage), m)
		return err
	})
	return cv, err
}

// coverageOf finds the run's n conversations in its dataset with find;
// metaLang: some of them have a language in their metadata.
func coverageOf(ctx context.Context, find func(source, id string) (*analysis.Conversation, error), n int, metaLang bool, m *runfolder.Manifest) (*Coverage, error) {
	cv := &Coverage{Languages: []Count{}, Warnings: []string{}}
	if m == nil {
		cv.Note = "The run folder has no manifest: the stages' plugins and the conversations' languages are not known."
		return cv, nil
	}
	cv.Methods = methods(m)
	langs, noAssistant, read, note, err := readLanguages(ctx, find, n, m)
	if err != nil {
		return nil, err
	}
	cv.Read, cv.NoAssistant, cv.Note = read, noAssistant, note
	if read == 0 {
		for _, me := range cv.Methods {
			if w := me.warning(nil, nil, 0); w != "" {
				cv.Warnings = append(cv.Warnings, w)
			}
		}
		return cv, nil
	}
	cv.LanguageSource = "the script of the conversation's letters: a cheap guess that tells scripts apart, not the languages written in one"
	if metaLang {
		cv.LanguageSource = "the dataset's metadata " + MetaLanguage + ", else the script of the conversation's letters"
	}
	byLabel := map[string]int{}
	for l, n := range langs {
		byLabel[l.Label] += n
	}
	for label, n := range byLabel {
		cv.Languages = append(cv.Languages, Count{Value: label, Count: n, Share: float64(n) / float64(read)})
	}
	slices.SortFunc(cv.Languages, func(a, b Count) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Value, b.Value)
	})
	for k := range cv.Methods {
		me := &cv.Methods[k]
		other := map[string]int{}
		for l, n := range langs {
			if !covers(me.Languages, l) {
				me.Uncovered += n
				other[l.Label] += n
			}
		}
		if w := me.warning(cv.Languages, other, read); w != "" {
			cv.Warnings = append(cv.Warnings, w)
		}
	}
	if noAssistant > 0 {
		cv.Warnings = append(cv.Warnings, fmt.Sprintf("%d of the %d conversations read have no assistant turn: there is no AI value to find in them.", noAssistant, read))
	}
	return cv, nil
}

// warning is what a reader must know before reading the stage's fields:
// that they come from an offline heuristic, and how many of the read
// conversations are in languages the plugin does not read (other: their
// counts by label, in the order of langs).
func (me *Method) warning(langs []Count, other map[string]int, read int) string {
	var w []string
	if me.Heuristic {
		w = append(w, fmt.Sprintf("%s (stage %s, %s) %s from an offline heuristic, not a model: %s Read %s as a demonstration of the pipeline, not as findings.",
			strings.Join(me.Fields, " and "), me.Stage, me.Plugin, map[bool]string{true: "come", false: "comes"}[len(me.Fields) > 1],
			strings.TrimSuffix(me.Description, ".")+".", map[bool]string{true: "them", false: "it"}[len(me.Fields) > 1]))
	}
	if me.Uncovered > 0 {
		var parts []string
		for _, c := range langs {
			if n := other[c.Value]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c.Value, n))
			}
		}
		w = append(w, fmt.Sprintf("The %s plugin reads only %s: %d of the %d conversations (%s) are in languages it does not cover (%s); there its empty results mean \"not read\", not \"no values\".",
			me.Plugin, languageNames(me.Languages), me.Uncovered, read, pct(float64(me.Uncovered)/float64(read)), strings.Join(parts, ", ")))
	}
	return strings.Join(w, " ")
}

// languageNames names ISO 639-1 codes for a reader ("English").
func languageNames(codes []string) string {
	var out []string
	for _, c := range codes {
		name := c
		for n, k := range languageCodes {
			if k == c {
				name = strings.ToUpper(n[:1]) + n[1:]
			}
		}
		out = append(out, name)
	}
	return strings.Join(out, ", ")
}

// readLanguages streams the run's dataset, finds each of its conversations
// in the run (find; the run has n), and returns how many of those found are
// in each language, how many have no assistant turn and how many were
// found. A dataset that cannot be opened is a note, not an error: the
// report is still worth having. Memory holds a bit per conversation found,
// not the run's conversations.
func readLanguages(ctx context.Context, find func(source, id string) (*analysis.Conversation, error), n int, m *runfolder.Manifest) (map[Language]int, int, int, string, error) {
	paths := m.Dataset.ReadPaths()
	if len(paths) == 0 {
		for _, f := range m.Dataset.Files {
			paths = append(paths, f.Path)
		}
	}
	if len(paths) == 0 {
		return nil, 0, 0, "The manifest names no dataset: languages not checked.", nil
	}
	rd, err := dataset.Open(paths, dataset.Options{Format: m.Dataset.Format})
	if err != nil {
		return nil, 0, 0, fmt.Sprintf("The run's dataset could not be opened (%v): languages not checked.", err), nil
	}
	defer rd.Close()
	langs := map[Language]int{}
	var found []uint64 // bit seq: the conversation was found (a dataset may repeat one)
	read, noAssistant, changed := 0, 0, 0
	for read < n {
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, "", err
		}
		c, err := rd.Next()
		if err == io.EOF {
			break
		}
		var bad *dataset.BadRecord
		if errors.As(err, &bad) {
			continue // counted by the run, and set aside in its store
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, 0, 0, fmt.Sprintf("The run's dataset could not be read (%v): languages not checked.", err), nil
			}
			return nil, 0, 0, "", fmt.Errorf("reading the run's dataset for its languages: %w", err)
		}
		rc, err := find(c.Source, c.ID)
		if err != nil {
			return nil, 0, 0, "", fmt.Errorf("reading the run's dataset for its languages: %w", err)
		}
		if rc == nil || rc.Seq < 0 {
			continue
		}
		w, bit := int(rc.Seq/64), uint64(1)<<(rc.Seq%64)
		if w >= len(found) {
			found = append(found, make([]uint64, w+1-len(found))...)
		}
		if found[w]&bit != 0 {
			continue
		}
		found[w] |= bit
		if sha := rc.ContentSHA; sha != "" && conversation.ContentID(c.Turns) != sha {
			changed++
		}
		l := detectScript(c)
		if v := strings.TrimSpace(rc.Meta[MetaLanguage]); v != "" {
			l = metaLanguage(v)
		}
		langs[l]++
		read++
		if !c.HasRole(conversation.Assistant) {
			noAssistant++
		}
	}
	var notes []string
	if missing := n - read; missing > 0 {
		notes = append(notes, fmt.Sprintf("%d of the run's %d conversations were not found in its dataset files.", missing, n))
	}
	if changed > 0 {
		notes = append(notes, fmt.Sprintf("%d conversations changed in the dataset since the run.", changed))
	}
	return langs, noAssistant, read, strings.Join(notes, " "), nil
}
