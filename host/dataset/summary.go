package dataset

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/valuescope/valuescope/host/conversation"
)

// Summary is what `valuescope datasets inspect` reports about a dataset.
type Summary struct {
	// Format is the detected format, or "mixed" when files differ (see Files).
	Format        string           `json:"format"`
	Conversations int64            `json:"conversations"`
	Turns         int64            `json:"turns"`
	Roles         map[string]int64 `json:"roles"`
	// OriginalRoles counts roles as the sources spelt them.
	OriginalRoles map[string]int64 `json:"original_roles"`
	Bytes         int64            `json:"content_bytes"`
	NoAssistant   int64            `json:"no_assistant_turn"`
	InvalidUTF8   int64            `json:"invalid_utf8"`
	DuplicateIDs  int64            `json:"duplicate_ids"`
	// Languages and Models count the conversations' "language" and "model"
	// metadata, where the source has it (top 20 each).
	Languages  []Count `json:"languages,omitempty"`
	Models     []Count `json:"models,omitempty"`
	BadRecords int64   `json:"bad_records"`
	// BadExamples are the first few bad records, with file, line and reason.
	BadExamples []string `json:"bad_examples,omitempty"`
	Files       []File   `json:"files"`
}

// Count is one entry of a frequency list.
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// maxBadExamples bounds the bad records a Summary quotes.
const maxBadExamples = 5

// Summarize reads src to the end and counts what it holds. Bad records are
// counted and the first few quoted; any other error is returned with the
// summary so far.
func Summarize(src Source) (*Summary, error) {
	s := &Summary{Roles: map[string]int64{}, OriginalRoles: map[string]int64{}}
	langs, models := map[string]int64{}, map[string]int64{}
	seen := map[string]struct{}{}
	var err error
	for {
		var c *conversation.Conversation
		c, err = src.Next()
		if err == io.EOF {
			err = nil
			break
		}
		var bad *BadRecord
		if errors.As(err, &bad) {
			s.BadRecords++
			if len(s.BadExamples) < maxBadExamples {
				s.BadExamples = append(s.BadExamples, bad.Error())
			}
			continue
		}
		if err != nil {
			break
		}
		s.add(c)
		if _, dup := seen[c.ID]; dup {
			s.DuplicateIDs++
		} else {
			seen[c.ID] = struct{}{}
		}
		if v, ok := c.Meta["language"].(string); ok && v != "" {
			langs[v]++
		}
		if v, ok := c.Meta["model"].(string); ok && v != "" {
			models[v]++
		}
	}
	s.Languages, s.Models = top(langs, 20), top(models, 20)
	if r, ok := src.(interface{ Files() []File }); ok {
		s.Files = r.Files()
		for _, f := range s.Files {
			switch {
			case f.Format == "empty":
			case s.Format == "":
				s.Format = f.Format
			case s.Format != f.Format:
				s.Format = "mixed"
			}
		}
	}
	return s, err
}

func (s *Summary) add(c *conversation.Conversation) {
	s.Conversations++
	s.Turns += int64(len(c.Turns))
	hasAssistant := false
	for i := range c.Turns {
		t := &c.Turns[i]
		s.Roles[t.Role]++
		orig := t.Role
		if o, ok := t.Meta[conversation.MetaOriginalRole].(string); ok {
			orig = o
		}
		s.OriginalRoles[orig]++
		s.Bytes += int64(len(t.Content))
		hasAssistant = hasAssistant || t.Role == conversation.Assistant
	}
	if !hasAssistant {
		s.NoAssistant++
	}
	if c.Meta["invalid_utf8"] == true {
		s.InvalidUTF8++
	}
}

func top(m map[string]int64, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// String renders the summary for a terminal.
func (s *Summary) String() string {
	b := fmt.Sprintf("format: %s\nconversations: %d\nturns: %d\n", s.Format, s.Conversations, s.Turns)
	for _, role := range []string{conversation.User, conversation.Assistant, conversation.System, conversation.Tool} {
		if n := s.Roles[role]; n > 0 {
			b += fmt.Sprintf("  %-9s %d\n", role, n)
		}
	}
	b += fmt.Sprintf("content: %.1f MB\nno assistant turn: %d\ninvalid UTF-8: %d\nduplicate ids: %d\n",
		float64(s.Bytes)/1e6, s.NoAssistant, s.InvalidUTF8, s.DuplicateIDs)
	for _, l := range []struct {
		name string
		c    []Count
	}{{"languages", s.Languages}, {"models", s.Models}} {
		if len(l.c) == 0 {
			continue
		}
		b += l.name + ":"
		for i, c := range l.c {
			if i == 8 {
				b += " ..."
				break
			}
			b += fmt.Sprintf(" %s=%d", c.Name, c.Count)
		}
		b += "\n"
	}
	b += fmt.Sprintf("bad records: %d\n", s.BadRecords)
	for _, e := range s.BadExamples {
		b += "  " + e + "\n"
	}
	if len(s.Files) > 1 {
		b += "files:\n"
		for _, f := range s.Files {
			b += fmt.Sprintf("  %s: %s/%s, %d conversations, %d bad\n", f.Source, f.Format, f.Container, f.Convs, f.Bad)
		}
	}
	for _, f := range s.Files {
		if f.Damaged != "" {
			b += fmt.Sprintf("  %s: damaged: %s\n", f.Source, f.Damaged)
		}
	}
	return b
}
