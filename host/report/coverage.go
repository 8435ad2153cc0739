package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
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
	// dataset could not be read). UncoveredNote, when set, says it is
	// floored: "fewer than N" (Uncovered 0), or "at least N" when the part
	// of it in languages under the floor is withheld.
	Uncovered     int    `json:"uncovered"`
	UncoveredNote string `json:"uncovered_note,omitempty"`
}

// Coverage is what the report found of the conversations' languages and
// turns, by reading the run's dataset again (the store keeps no text).
type Coverage struct {
	Methods []Method `json:"methods"`
	// Read: the run's conversations found in its dataset files.
	Read int `json:"read"`
	// LanguageSource says where Languages come from.
	LanguageSource string `json:"language_source,omitempty"`
	// Languages counts the conversations read per language or script
	// (text without letters apart, as "no letters"), under the privacy
	// floor folded into "other languages" (the report is shareable); with
	// fewer conversations read than the floor, none.
	Languages []Count `json:"languages"`
	// NoAssistant counts conversations without an assistant turn: nothing
	// to extract an AI value from. NoAssistantNote, when set, replaces it
	// ("fewer than 5"; NoAssistant 0): under the floor.
	NoAssistant     int    `json:"no_assistant"`
	NoAssistantNote string `json:"no_assistant_note,omitempty"`
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
func buildCoverage(ctx context.Context, r *analysis.Run, m *runfolder.Manifest, floor analysis.Floor) (*Coverage, error) {
	var cv *Coverage
	err := r.Find(ctx, func(find func(source, id string) (*analysis.Conversation, error)) error {
		var err error
		cv, err = coverageOf(ctx, find, r.Len(), r.HasMetaValue(MetaLanguage), m, floor, r.UserKey != "")
		return err
	})
	return cv, err
}

// coverageOf finds the run's n conversations in its dataset with find;
// metaLang: some of them have a language in their metadata. Counts under
// floor are folded or said to be "fewer than" it (usersKnown: the run
// names users).
func coverageOf(ctx context.Context, find func(source, id string) (*analysis.Conversation, error), n int, metaLang bool, m *runfolder.Manifest, floor analysis.Floor, usersKnown bool) (*Coverage, error) {
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
	cv.Read, cv.Note = read, note
	if read == 0 {
		for _, me := range cv.Methods {
			if w := me.warning(nil, nil, 0); w != "" {
				cv.Warnings = append(cv.Warnings, w)
			}
		}
		return cv, nil
	}
	pass := func(t *tally) bool { return floor.Pass(float64(t.n), float64(len(t.users)), usersKnown) }
	fewer := fmt.Sprintf("fewer than %d", floor.MinConversations)
	if usersKnown && floor.MinUsers > 0 {
		fewer = fmt.Sprintf("fewer than %d conversations or %d users", floor.MinConversations, floor.MinUsers)
	}
	cv.LanguageSource = "the script of the letters of the assistant's turns (the user's when there is none), code left out: a cheap guess that tells scripts apart, not the languages written in one"
	if metaLang {
		cv.LanguageSource = "the dataset's metadata " + MetaLanguage + ", else the script of the letters of the assistant's turns"
	}
	byLabel := map[string]*tally{}
	for l, t := range langs {
		byLabel[l.Label] = byLabel[l.Label].add(t)
	}
	labels := slices.Collect(maps.Keys(byLabel))
	slices.SortFunc(labels, func(a, b string) int {
		return cmp.Or(cmp.Compare(byLabel[b].n, byLabel[a].n), strings.Compare(a, b))
	})
	// Fold the labels under the floor into "other languages", then, while
	// that group is under the floor itself, the smallest label shown: no
	// count under the floor follows from Read less the shown ones.
	shown := len(labels)
	var other *tally
	for shown > 0 && !pass(byLabel[labels[shown-1]]) {
		shown--
		other = other.add(byLabel[labels[shown]])
	}
	for other != nil && !pass(other) && shown > 0 {
		shown--
		other = other.add(byLabel[labels[shown]])
	}
	if other != nil && !pass(other) {
		cv.Note = strings.TrimSpace(cv.Note + fmt.Sprintf(" Languages not shown: %d conversations read, under the privacy floor.", read))
	} else {
		for _, label := range labels[:shown] {
			cv.Languages = append(cv.Languages, Count{Value: label, Count: byLabel[label].n, Share: float64(byLabel[label].n) / float64(read)})
		}
		if other != nil {
			cv.Languages = append(cv.Languages, Count{Value: OtherLanguages, Count: other.n, Share: float64(other.n) / float64(read)})
		}
	}
	isShown := map[string]bool{}
	for _, c := range cv.Languages {
		isShown[c.Value] = true
	}
	for k := range cv.Methods {
		me := &cv.Methods[k]
		parts := map[string]int{}
		var all, folded *tally
		for l, t := range langs {
			if covers(me.Languages, l) {
				continue
			}
			all = all.add(t)
			if isShown[l.Label] && l.Label != OtherLanguages {
				parts[l.Label] += t.n
			} else {
				folded = folded.add(t)
			}
		}
		if all != nil {
			me.Uncovered = all.n
			switch {
			case !pass(all):
				me.Uncovered, me.UncoveredNote = 0, fewer
			case folded != nil && !pass(folded):
				me.Uncovered -= folded.n
				me.UncoveredNote = fmt.Sprintf("at least %d", me.Uncovered)
			case folded != nil:
				parts[OtherLanguages] = folded.n
			}
		}
		if w := me.warning(cv.Languages, parts, read); w != "" {
			cv.Warnings = append(cv.Warnings, w)
		}
	}
	if noAssistant.n > 0 {
		cv.NoAssistant = noAssistant.n
		count := strconv.Itoa(noAssistant.n)
		if !pass(noAssistant) {
			cv.NoAssistant, cv.NoAssistantNote = 0, fewer
			count = strings.ToUpper(fewer[:1]) + fewer[1:]
		}
		cv.Warnings = append(cv.Warnings, fmt.Sprintf("%s of the %d conversations read have no assistant turn: there is no AI value to find in them.", count, read))
	}
	return cv, nil
}

// OtherLanguages labels the languages folded together under the floor.
const OtherLanguages = "other languages"

// tally is a count of conversations and their distinct users.
type tally struct {
	n     int
	users map[string]bool
}

// add returns t with u added (t may be nil).
func (t *tally) add(u *tally) *tally {
	if t == nil {
		t = &tally{users: map[string]bool{}}
	}
	t.n += u.n
	for k := range u.users {
		t.users[k] = true
	}
	return t
}

func (t *tally) one(user string) {
	t.n++
	if user != "" {
		t.users[user] = true
	}
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
	if me.Uncovered > 0 || me.UncoveredNote != "" {
		var parts []string
		for _, c := range langs {
			if n := other[c.Value]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c.Value, n))
			}
		}
		count := fmt.Sprintf("%d of the %d conversations (%s)", me.Uncovered, read, pct(float64(me.Uncovered)/float64(read)))
		if me.UncoveredNote != "" {
			count = me.UncoveredNote + " of the " + strconv.Itoa(read) + " conversations"
		}
		list := ""
		if len(parts) > 0 {
			list = " (" + strings.Join(parts, ", ") + ")"
		}
		w = append(w, fmt.Sprintf("The %s plugin reads only %s: %s are in languages it does not cover%s; there its empty results mean \"not read\", not \"no values\".",
			me.Plugin, languageNames(me.Languages), count, list))
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
// found, each with its distinct users (for the floor). A dataset that
// cannot be opened is a note, not an error: the report is still worth
// having. Memory holds a bit per conversation found and the users, not
// the run's conversations.
func readLanguages(ctx context.Context, find func(source, id string) (*analysis.Conversation, error), n int, m *runfolder.Manifest) (map[Language]*tally, *tally, int, string, error) {
	paths := m.Dataset.ReadPaths()
	if len(paths) == 0 {
		for _, f := range m.Dataset.Files {
			paths = append(paths, f.Path)
		}
	}
	if len(paths) == 0 {
		return nil, nil, 0, "The manifest names no dataset: languages not checked.", nil
	}
	rd, err := dataset.Open(paths, dataset.Options{Format: m.Dataset.Format})
	if err != nil {
		return nil, nil, 0, fmt.Sprintf("The run's dataset could not be opened (%v): languages not checked.", err), nil
	}
	defer rd.Close()
	langs := map[Language]*tally{}
	noAssistant := &tally{users: map[string]bool{}}
	var found []uint64 // bit seq: the conversation was found (a dataset may repeat one)
	read, changed := 0, 0
	for read < n {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, "", err
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
				return nil, nil, 0, fmt.Sprintf("The run's dataset could not be read (%v): languages not checked.", err), nil
			}
			return nil, nil, 0, "", fmt.Errorf("reading the run's dataset for its languages: %w", err)
		}
		rc, err := find(c.Source, c.ID)
		if err != nil {
			return nil, nil, 0, "", fmt.Errorf("reading the run's dataset for its languages: %w", err)
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
		if langs[l] == nil {
			langs[l] = &tally{users: map[string]bool{}}
		}
		langs[l].one(rc.User)
		read++
		if !c.HasRole(conversation.Assistant) {
			noAssistant.one(rc.User)
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
