// Package conversation defines the one shape every dataset is read into: a
// conversation of turns with normalised roles, plus the source's own fields
// kept as metadata so that they can later be analysed as contexts.
package conversation

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unsafe"
)

// The normalised roles. Every reader maps its source's roles onto these four;
// the original spelling is kept in the turn's Meta under MetaOriginalRole.
const (
	User      = "user"
	Assistant = "assistant"
	System    = "system"
	Tool      = "tool"
)

// MetaOriginalRole is the Turn.Meta key holding the role as the source spelt
// it, set only when it differs from the normalised role.
const MetaOriginalRole = "original_role"

// Conversation is one dialogue from a dataset.
//
// ID is stable across runs: the source's own identifier when it has one,
// otherwise a hash of the turns (see ContentID). Source names the file the
// conversation came from (relative to the dataset root given by the user), so
// that (Source, ID) is unique even when line-numbered IDs repeat across shards.
type Conversation struct {
	ID     string         `json:"id"`
	Source string         `json:"source"`
	Turns  []Turn         `json:"turns"`
	Meta   map[string]any `json:"meta,omitempty"`
}

// Turn is one message. Meta holds per-message source fields (WildChat's
// language, toxic, redacted, timestamps...) and the original role.
type Turn struct {
	Role    string         `json:"role"`
	Content string         `json:"content"`
	Meta    map[string]any `json:"meta,omitempty"`
}

// HasRole reports whether any turn has the given normalised role.
func (c *Conversation) HasRole(role string) bool {
	for i := range c.Turns {
		if c.Turns[i].Role == role {
			return true
		}
	}
	return false
}

// Bytes is the total length in bytes of the turns' content.
func (c *Conversation) Bytes() int {
	n := 0
	for i := range c.Turns {
		n += len(c.Turns[i].Content)
	}
	return n
}

// ContentID derives an identifier from the roles and contents of the turns:
// the first 16 bytes of their SHA-256, hex encoded. Sources without IDs get
// this, so the same conversation gets the same ID in every run, and exact
// duplicates within a dataset share one.
func ContentID(turns []Turn) string {
	h := sha256.New()
	for _, t := range turns {
		h.Write(bytesOf(t.Role))
		h.Write([]byte{0})
		h.Write(bytesOf(t.Content))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// roles maps lower-cased source role names onto the normalised roles. It
// covers the spellings of the supported datasets (ShareGPT's human/gpt,
// HH-RLHF's Human/Assistant, Claude.ai's sender, OpenAI's function/tool,
// Gemini's model, OpenAssistant's prompter) and a few common others.
var roles = map[string]string{
	"user":        User,
	"human":       User,
	"prompter":    User,
	"customer":    User,
	"assistant":   Assistant,
	"gpt":         Assistant,
	"chatgpt":     Assistant,
	"bing":        Assistant,
	"bard":        Assistant,
	"claude":      Assistant,
	"model":       Assistant,
	"bot":         Assistant,
	"ai":          Assistant,
	"system":      System,
	"developer":   System,
	"tool":        Tool,
	"function":    Tool,
	"ipython":     Tool,
	"observation": Tool,
}

// NormalizeRole maps a source's role name onto one of the four normalised
// roles. ok is false when the role is unknown: readers report that record as
// bad rather than guess who was speaking.
func NormalizeRole(role string) (normalized string, ok bool) {
	if r, ok := roles[role]; ok {
		return r, true
	}
	r, ok := roles[strings.ToLower(strings.TrimSpace(role))]
	return r, ok
}

// bytesOf views a string's bytes without copying them. The hash only reads
// them; copying every message to hash it was a fifth of the reading time of a
// dataset without IDs.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
