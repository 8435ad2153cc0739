package pipeline

import (
	"crypto/sha256"
	"fmt"
	"strconv"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/store"
)

// Duplicate conversations are set aside as bad records, never stored twice
// and never a reason to stop a run. Real datasets have them: the Chatbot
// Arena file of shared/data read without its IDs holds 324 conversations
// whose turns repeat another's, and before this every one of them stopped
// the run with a foreign-key failure that every resume met again.
//
// The rule, decided by the ID and the turns (not the metadata):
//
//   - Same ID and same turns as a conversation read before, in any file of
//     the dataset: an exact duplicate. Counting it again would count one
//     conversation twice in every table, so it is set aside, its reason
//     naming the first copy's file and line.
//   - Same ID in the same file, other turns: two conversations claim one
//     identity (the store's, and what exports, merge, compare and review
//     key on), and the host cannot tell which is meant (a later, longer copy
//     of a chat that went on? an ID reused?). The first is kept; the repeat
//     is set aside with both places named, so that nothing is lost silently:
//     give it an ID of its own (or drop the ID field, and each gets one from
//     its turns) and run again.
//   - Same ID in another file, other turns: two conversations, both kept.
//     Line-numbered IDs (HH-RLHF's "12:chosen") repeat from file to file;
//     a conversation is identified by its file and ID.
//
// The first copy is the first in dataset order, so every invocation decides
// alike: a resumed run reads the dataset from its start again and sees the
// first copies, stored or not. A duplicate keeps its position (seq) unused,
// so the positions of the others do not move. Copies share their ID, so
// under --shard they fall in one shard, which decides as the whole run
// would; merge unites the shards' records set aside.
//
// Memory: one map entry a conversation read, a 16-byte hash of its ID and
// 32 bytes of its turns' hash and where it is: with the map's own overhead,
// about 120 MB for a million conversations (measured: 117 MB).
type firsts struct {
	seen  map[[16]byte]first
	more  map[[16]byte][]first // an ID seen in several files, the rare case
	files []dataset.Location   // File and Parquet of each file, by index
	index map[string]int32     // file name+source -> index in files
	srcs  []string             // the source of each file, by index
}

// first is where a conversation was first read, and a hash of its turns.
type first struct {
	turns  uint64
	record int64
	line   int64
	file   int32
}

func newFirsts() *firsts {
	return &firsts{seen: map[[16]byte]first{}, more: map[[16]byte][]first{}, index: map[string]int32{}}
}

// check records a conversation read at loc (its file's source src, its
// turns' content hash sha, from conversation.ContentID) and says why it is
// a duplicate to set aside, or "" when it is not.
func (f *firsts) check(id, src, sha string, loc dataset.Location) string {
	key := sha256.Sum256([]byte(id))
	var k [16]byte
	copy(k[:], key[:])
	turns, _ := strconv.ParseUint(sha[:min(16, len(sha))], 16, 64)
	fk := loc.File + "\x00" + src
	fi, ok := f.index[fk]
	if !ok {
		fi = int32(len(f.files))
		f.index[fk] = fi
		f.files = append(f.files, dataset.Location{File: loc.File, Parquet: loc.Parquet})
		f.srcs = append(f.srcs, src)
	}
	here := first{turns: turns, record: loc.Record, line: int64(loc.Line), file: fi}
	prev, ok := f.seen[k]
	if !ok {
		f.seen[k] = here
		return ""
	}
	for _, p := range append([]first{prev}, f.more[k]...) {
		switch {
		case p.turns == turns:
			return fmt.Sprintf("%sconversation %s has the same ID and turns as the one at %s: set aside, so that it is not counted twice",
				store.DuplicatePrefix, strconv.Quote(id), f.where(p))
		case f.srcs[p.file] == src:
			return fmt.Sprintf("%sconversation ID %s is already that of a different conversation in %s, at %s, which is kept: this one is set aside (give it an ID of its own)",
				store.DuplicatePrefix, strconv.Quote(id), src, f.where(p))
		}
	}
	f.more[k] = append(f.more[k], here)
	return ""
}

func (f *firsts) where(p first) string {
	l := f.files[p.file]
	l.Line, l.Record = int(p.line), p.record
	return l.String()
}

// locator is a source that says where the conversation Next last returned
// was read (*dataset.Reader).
type locator interface{ Location() dataset.Location }
