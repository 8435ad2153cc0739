// Package dataset reads chat datasets in their published layouts — WildChat,
// LMSYS-Chat-1M, ShareGPT, OpenAI chat messages, Anthropic Messages logs, the
// Claude.ai data export, Anthropic HH-RLHF — as one stream of
// conversation.Conversation values.
//
// Reading streams: a file is never held whole in memory (JSONL line by line,
// JSON arrays element by element, Parquet row group by row group), so a
// dataset of tens of gigabytes reads with a small, constant heap.
//
// The format of each file is detected from its content (see Formats), gzip and
// zstd are undone transparently, and a path may be a file, a folder of shards
// or a glob.
//
// # Bad input
//
// A record that cannot be read — a JSONL line that is not JSON, a message with
// an unknown role, a conversation with no turns — is not dropped silently:
// Reader.Next returns it as a *BadRecord naming the file, line (or Parquet
// row) and reason, and reading goes on with the next record. A file damaged
// part way — a truncated .gz or .zst shard, a JSON array broken mid-file, a
// corrupt Parquet page or a missing footer — keeps what was read before the
// damage; the rest of it (for Parquet, of the row group) is one bad record
// with Damaged set, File.Damaged says why, and reading goes on with the next
// file or row group. With Options.Strict the first bad record ends the read
// instead. Other errors (a file that cannot be opened, a file in no known
// format) are fatal and say what was tried.
//
// Choices made deliberately, so that they are the same in every run:
//   - A conversation with no turns is a bad record: there is nothing to analyse.
//   - A conversation with no assistant turn is kept; Summary counts them.
//   - A turn with empty content is kept (some sources log empty replies).
//   - A role outside the known spellings (conversation.NormalizeRole) makes the
//     record bad rather than be guessed at.
//   - Invalid UTF-8 is replaced by U+FFFD and the conversation is marked with
//     Meta["invalid_utf8"] = true; Summary counts them.
//   - A record (one JSONL line, one array element) over Options.MaxRecordBytes
//     (default 64 MiB) is a bad record; a 1 MB message is ordinary.
//   - JSON object members with the same name twice make the record bad.
package dataset

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/conversation"
)

// Options control how a dataset is read. The zero value reads every file with
// format detection and sets bad records aside.
type Options struct {
	// Format forces one format for every file ("" or "auto": detect per file).
	Format string
	// Strict makes the first bad record a fatal error.
	Strict bool
	// MaxRecordBytes bounds one record; 0 means 64 MiB.
	MaxRecordBytes int
	// Shard, when Count > 1, keeps only the conversations whose ID hashes to
	// Index modulo Count, so that N workers can split a dataset without
	// coordinating.
	Shard Shard
}

// Shard selects a deterministic part of a dataset by conversation ID.
type Shard struct {
	Index, Count int
}

// Keep reports whether the conversation ID belongs to this shard.
func (s Shard) Keep(id string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	io.WriteString(h, id)
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// ParseShard parses "i/N" (0 <= i < N).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, ierr := strconv.Atoi(is)
	n, nerr := strconv.Atoi(ns)
	if !ok || ierr != nil || nerr != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 <= i < N", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String is the shard as ParseShard reads it ("" when the whole dataset).
func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

const defaultMaxRecordBytes = 64 << 20

// BadRecord describes one record that could not be read. It is returned by
// Reader.Next as a non-fatal error: reading can go on.
type BadRecord struct {
	Location
	Reason string
	// Damaged is set when the file could not be read past Location (a
	// truncated compressed shard, a broken JSON document, a damaged Parquet
	// row group or footer): everything from there to the end of the file, or
	// of the Parquet row group, is set aside in this one record.
	Damaged bool
}

func (b *BadRecord) Error() string { return b.Location.String() + ": " + b.Reason }

// Location says where a record is, for error messages.
type Location struct {
	File string // the file as opened
	// Line is the 1-based line where the record starts; 0 when the file has no
	// lines to speak of (Parquet).
	Line int
	// Record is the 1-based number of the record within the file: JSONL line
	// (blank lines not counted), array element, or Parquet row.
	Record int64
	// Parquet is set for Parquet rows, whose Record is reported as a row.
	Parquet bool
}

func (l Location) String() string {
	switch {
	case l.Parquet:
		return fmt.Sprintf("%s: row %d", l.File, l.Record-1)
	case l.Line > 0:
		return fmt.Sprintf("%s:%d", l.File, l.Line)
	case l.Record == 0: // the whole file
		return l.File
	default:
		return fmt.Sprintf("%s: record %d", l.File, l.Record)
	}
}

// IsBad reports whether err is a *BadRecord, i.e. whether reading may go on.
func IsBad(err error) bool {
	var b *BadRecord
	return errors.As(err, &b)
}

// Compile-time check that a Reader is a Source.
var _ Source = (*Reader)(nil)

// Source is the boundary other packages read through: the pipeline, tests and
// any program embedding valuescope take a Source, not a concrete Reader.
type Source interface {
	// Next returns the next conversation; io.EOF at the end; a *BadRecord for
	// a record set aside (call Next again); any other error is fatal.
	Next() (*conversation.Conversation, error)
	Close() error
}
