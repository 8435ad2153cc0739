package dataset

import (
	"bufio"
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valuescope/valuescope/host/conversation"
)

// File describes one file of a dataset as read so far.
type File struct {
	Path      string `json:"path"`
	Source    string `json:"source"`
	Format    string `json:"format"`    // "" until the first record is read; "empty" for a file with no records
	Container string `json:"container"` // jsonl, json or parquet
	Compress  string `json:"compression,omitempty"`
	Records   int64  `json:"records"`
	Convs     int64  `json:"conversations"`
	Bad       int64  `json:"bad_records"`
	// Damaged is why part of the file could not be read (a truncated
	// compressed shard, a broken Parquet page or footer), "" when none was:
	// what came before the damage was read, the rest set aside as a bad
	// record, and reading went on with the next file.
	Damaged string `json:"damaged,omitempty"`
}

// Reader streams the conversations of a dataset, file after file.
type Reader struct {
	opts   Options
	format *Format // forced format, or nil
	inputs []input
	files  []File

	cur     int // index into inputs of the open file; -1 before the first
	src     recordSource
	closers []io.Closer
	fmt     *Format
	queue   []conversation.Conversation
	qi      int
	loc     Location // of the record the queue was decoded from
	err     error

	// For Progress: the files' sizes, the bytes of the files read to the
	// end, how far into the open file reading is (in its bytes, compressed
	// or not; a Parquet file's rows count as their share of its size), and
	// their sum as Next last saw it, for another goroutine to read.
	sizes    []int64
	size     int64
	doneSize int64
	filePos  atomic.Int64
	pos      atomic.Int64
}

// Progress is how far reading has got through the dataset's bytes: read of
// size, size being every file's (0 when unknown). Another goroutine may
// call it while Next runs: a run's progress shows a total and an ETA from
// it.
func (r *Reader) Progress() (read, size int64) { return r.pos.Load(), r.size }

func (r *Reader) updatePos() {
	cur := r.filePos.Load()
	if ps, ok := r.src.(*parquetSource); ok && ps.meta != nil && ps.meta.NumRows > 0 && r.cur < len(r.sizes) {
		cur = int64(float64(r.sizes[r.cur]) * float64(ps.row) / float64(ps.meta.NumRows))
	}
	r.pos.Store(r.doneSize + cur)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Open prepares to read the files named by paths (files, folders, globs). It
// checks that every path matches something; files are opened one at a time as
// reading reaches them.
func Open(paths []string, opts Options) (*Reader, error) {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = defaultMaxRecordBytes
	}
	r := &Reader{opts: opts, cur: -1}
	if opts.Format != "" && opts.Format != "auto" {
		f, err := LookupFormat(opts.Format)
		if err != nil {
			return nil, err
		}
		r.format = f
	}
	if len(paths) == 0 {
		return nil, errors.New("no dataset path given")
	}
	inputs, err := expand(paths)
	if err != nil {
		return nil, err
	}
	r.inputs = inputs
	r.files = make([]File, len(inputs))
	r.sizes = make([]int64, len(inputs))
	for i, in := range inputs {
		r.files[i] = File{Path: in.path, Source: in.source}
		if fi, err := os.Stat(in.path); err == nil {
			r.sizes[i] = fi.Size()
			r.size += fi.Size()
		}
	}
	return r, nil
}

// Location is where the record of the conversation Next last returned is
// (one record may hold several conversations: HH-RLHF's chosen and
// rejected). The pipeline names it for a duplicate and its first copy.
func (r *Reader) Location() Location { return r.loc }

// Files reports each file of the dataset: its detected format and counts so
// far. The slice is a copy.
func (r *Reader) Files() []File { return append([]File(nil), r.files...) }

// Next returns the next conversation. See Source for the meaning of errors.
func (r *Reader) Next() (*conversation.Conversation, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		if r.qi < len(r.queue) {
			c := &r.queue[r.qi]
			r.qi++
			if !r.opts.Shard.Keep(c.ID) {
				continue
			}
			r.files[r.cur].Convs++
			return c, nil
		}
		var err error
		if r.src == nil {
			err = r.openNext()
			var d *damage
			if !errors.As(err, &d) {
				if err != nil {
					r.err = err
					return nil, err
				}
				continue
			}
			err = r.damaged(d, Location{File: r.inputs[r.cur].path})
		} else {
			var rec record
			rec, err = r.src.next()
			if err == io.EOF {
				r.closeFile()
				continue
			}
			r.updatePos()
			switch {
			case err == nil:
				err = r.decode(rec)
			case !IsBad(err):
				// The file cannot be read past here: a truncated or corrupt
				// compressed stream, a JSON document broken mid-file.
				err = r.damaged(err, r.src.where())
			}
		}
		if err == nil {
			continue
		}
		var bad *BadRecord
		if !errors.As(err, &bad) {
			r.err = err
			return nil, err
		}
		f := &r.files[r.cur]
		f.Bad++
		if bad.Damaged && f.Damaged == "" {
			f.Damaged = bad.Reason
		}
		if r.opts.Strict {
			r.err = fmt.Errorf("strict: %w", err)
			return nil, r.err
		}
		return nil, err
	}
}

// decode turns one record into the queue of conversations to hand out.
func (r *Reader) decode(rec record) error {
	f := &r.files[r.cur]
	f.Records++
	if rec.parquet != nil {
		if done, err := r.decodeObject(rec); done || err != nil {
			return err
		}
		data, err := rec.parquet.json()
		if err != nil {
			return &BadRecord{Location: rec.loc, Reason: err.Error()}
		}
		rec.data = data
	}
	if r.fmt == nil {
		format, err := detect(rec.data, rec.loc)
		if err != nil {
			return err
		}
		r.fmt = format
		f.Format = format.Name
	}
	var err error
	r.queue, err = r.fmt.decode(rec.data, rec.loc, false, r.queue[:0])
	r.qi, r.loc = 0, rec.loc
	// Decoding is strict about UTF-8, which costs nothing extra on valid
	// input; only a record that failed is decoded again, leniently.
	invalid := false
	if err != nil {
		if q, lerr := r.fmt.decode(rec.data, rec.loc, true, r.queue[:0]); lerr == nil {
			r.queue, err, invalid = q, nil, true
		}
	}
	if err != nil {
		r.queue = r.queue[:0]
		return &BadRecord{Location: rec.loc, Reason: err.Error()}
	}
	r.sourced(invalid)
	return nil
}

// decodeObject decodes a Parquet row the fast way, straight from its values,
// when its format can; done is false when the row must go the JSON way.
func (r *Reader) decodeObject(rec record) (done bool, err error) {
	obj, ok := rec.parquet.object()
	if !ok {
		return false, nil
	}
	if r.fmt == nil {
		format, err := detectSample(obj, rec.loc)
		if err != nil {
			return false, err
		}
		r.fmt = format
		r.files[r.cur].Format = format.Name
	}
	if r.fmt.decodeObject == nil {
		return false, nil
	}
	q, err := r.fmt.decodeObject(obj, r.queue[:0])
	if err != nil {
		return false, nil
	}
	r.queue, r.qi = q, 0
	r.sourced(false)
	return true, nil
}

// sourced fills in the queued conversations' source, and marks them when
// their text had invalid UTF-8.
func (r *Reader) sourced(invalid bool) {
	f := &r.files[r.cur]
	for i := range r.queue {
		c := &r.queue[i]
		if c.Source == "" {
			c.Source = f.Source
		}
		if invalid {
			if c.Meta == nil {
				c.Meta = map[string]any{}
			}
			c.Meta["invalid_utf8"] = true
		}
	}
}

// openNext opens the next file, undoing compression and choosing the
// container from the first bytes.
func (r *Reader) openNext() error {
	r.cur++
	if r.cur >= len(r.inputs) {
		return io.EOF
	}
	in := r.inputs[r.cur]
	f := &r.files[r.cur]
	file, err := os.Open(in.path)
	if err != nil {
		return fmt.Errorf("opening dataset file: %w", err)
	}
	r.closers = append(r.closers, file)
	r.filePos.Store(0)
	r.fmt = r.format
	if r.fmt != nil {
		f.Format = r.fmt.Name
	}
	br := bufio.NewReaderSize(countingReader{file, &r.filePos}, 1<<20)
	magic, _ := br.Peek(4)
	var rd io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return &damage{fmt.Errorf("%s: gzip: %w", in.path, err)}
		}
		r.closers = append(r.closers, zr)
		rd, f.Compress = zr, "gzip"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return &damage{fmt.Errorf("%s: zstd: %w", in.path, err)}
		}
		r.closers = append(r.closers, zr.IOReadCloser())
		rd, f.Compress = zr, "zstd"
	case bytes.Equal(magic, []byte("PAR1")):
		f.Container = "parquet"
		src, err := openParquet(file, in.path)
		if err != nil {
			return &damage{err}
		}
		r.src, f.Container = src, src.container()
		return nil
	}
	if f.Compress != "" {
		br = bufio.NewReaderSize(rd, 1<<20)
	}
	r.src = r.sniff(br, in.path)
	f.Container = r.src.container()
	return nil
}

// sniff chooses between JSONL and a JSON document. A file whose first line is
// a complete JSON value is JSONL; one that starts with '[' or whose first
// value spans lines is a JSON document (an array, or pretty-printed objects).
func (r *Reader) sniff(br *bufio.Reader, path string) recordSource {
	head, _ := br.Peek(64 << 10)
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return newJSONDocSource(br, path, r.opts.MaxRecordBytes)
	}
	if i := bytes.IndexByte(trimmed, '\n'); i >= 0 && !stdjson.Valid(trimmed[:i]) {
		return newJSONDocSource(br, path, r.opts.MaxRecordBytes)
	}
	return newJSONLSource(br, path, r.opts.MaxRecordBytes)
}

// damage is an error opening a file that lies in its content (a gzip header
// cut short, a Parquet footer missing), not in the file system.
type damage struct{ err error }

func (d *damage) Error() string { return d.err.Error() }
func (d *damage) Unwrap() error { return d.err }

// damaged ends the open file at an error that stops reading it, at loc: what
// was read of the file is kept, the rest is set aside as one bad record, and
// reading goes on with the next file.
func (r *Reader) damaged(err error, loc Location) *BadRecord {
	r.closeFile()
	if f := &r.files[r.cur]; f.Format == "empty" {
		f.Format = ""
	}
	reason := strings.TrimPrefix(err.Error(), loc.File+": ")
	return &BadRecord{Location: loc, Reason: "the rest of the file set aside: " + reason, Damaged: true}
}

func (r *Reader) closeFile() {
	r.closeAll()
	if r.cur < len(r.sizes) {
		r.doneSize += r.sizes[r.cur]
		r.filePos.Store(0)
		r.pos.Store(r.doneSize)
	}
	if f := &r.files[r.cur]; f.Format == "" && f.Records == 0 {
		f.Format = "empty"
	}
	r.src = nil
}

func (r *Reader) closeAll() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	r.closers = r.closers[:0]
	return errors.Join(errs...)
}

// Close releases the open file, if any.
func (r *Reader) Close() error {
	r.src = nil
	if r.err == nil {
		r.err = errors.New("dataset reader closed")
	}
	return r.closeAll()
}
