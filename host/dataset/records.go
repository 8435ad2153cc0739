package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// record is one raw JSON object from a file, with where it starts. data is
// valid only until the next call to next.
type record struct {
	data []byte
	loc  Location
	// parquet, for a Parquet row, converts it instead of data.
	parquet *parquetSource
}

// recordSource yields the raw records of one file. A *BadRecord from next is
// non-fatal (a JSONL line too long, a Parquet row that cannot be turned into
// JSON); io.EOF ends the file; anything else means the file cannot be read
// further, and where says at which record.
type recordSource interface {
	next() (record, error)
	// where is the location of the record next would have returned.
	where() Location
	// container names the layout, for Summary: "jsonl", "json", "parquet".
	container() string
}

// jsonlSource reads one JSON value per line. Lines are not limited by a
// scanner's token size: they grow up to max and past it are skipped whole and
// reported.
type jsonlSource struct {
	r      *bufio.Reader
	file   string
	max    int
	line   int
	n      int64
	buf    []byte
	failed error
}

func newJSONLSource(r *bufio.Reader, file string, max int) *jsonlSource {
	return &jsonlSource{r: r, file: file, max: max}
}

func (s *jsonlSource) container() string { return "jsonl" }

func (s *jsonlSource) where() Location {
	return Location{File: s.file, Line: s.line + 1, Record: s.n + 1}
}

func (s *jsonlSource) next() (record, error) {
	for {
		if s.failed != nil {
			return record{}, s.failed
		}
		line, tooLong, err := s.readLine()
		if err != nil && !(err == io.EOF && (len(line) > 0 || tooLong > 0)) {
			s.failed = err
			if err != io.EOF {
				s.failed = fmt.Errorf("reading %s line %d: %w", s.file, s.line+1, err)
			}
			return record{}, s.failed
		}
		s.line++
		if err == io.EOF {
			s.failed = io.EOF
		}
		if tooLong > 0 {
			s.n++
			return record{}, &BadRecord{Location: Location{File: s.file, Line: s.line, Record: s.n}, Reason: fmt.Sprintf("line is %d bytes, over the %d-byte record limit", tooLong, s.max)}
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		s.n++
		return record{data: line, loc: Location{File: s.file, Line: s.line, Record: s.n}}, nil
	}
}

// readLine returns the next line without its newline. When the line is longer
// than s.max it is consumed and tooLong holds its length.
func (s *jsonlSource) readLine() (line []byte, tooLong int, err error) {
	s.buf = s.buf[:0]
	total := 0
	for {
		frag, err := s.r.ReadSlice('\n')
		total += len(frag)
		if total <= s.max+1 {
			if err == nil && len(s.buf) == 0 {
				return frag[:len(frag)-1], 0, nil // the common case: no copy
			}
			s.buf = append(s.buf, frag...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil && total == 0:
			return nil, 0, err
		}
		if total > s.max+1 {
			return nil, total, err
		}
		return bytes.TrimSuffix(s.buf, []byte{'\n'}), 0, err
	}
}

// jsonDocSource reads a JSON document: an array of records (read element by
// element) or a stream of top-level values (one pretty-printed object, or
// several). A syntax error here is fatal: a JSON document cannot be
// resynchronised after it the way JSONL can at the next line.
type jsonDocSource struct {
	dec   *jsontext.Decoder
	lines *lineCounter
	file  string
	array bool
	start bool
	n     int64
	max   int
	done  error
}

func newJSONDocSource(r io.Reader, file string, max int) *jsonDocSource {
	lc := &lineCounter{r: r}
	return &jsonDocSource{
		dec:   jsontext.NewDecoder(lc, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)),
		lines: lc,
		file:  file,
		max:   max,
	}
}

func (s *jsonDocSource) container() string { return "json" }

func (s *jsonDocSource) where() Location { return Location{File: s.file, Record: s.n + 1} }

func (s *jsonDocSource) fatal(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		err = fmt.Errorf("%s:%d: broken JSON after %d records (a JSON document cannot be read past a syntax error; JSONL can): %w",
			s.file, s.lines.lineAt(se.ByteOffset), s.n, err)
	} else {
		err = fmt.Errorf("reading %s after %d records: %w", s.file, s.n, err)
	}
	s.done = err
	return err
}

func (s *jsonDocSource) next() (record, error) {
	if s.done != nil {
		return record{}, s.done
	}
	if !s.start {
		s.start = true
		if s.dec.PeekKind() == '[' {
			if _, err := s.dec.ReadToken(); err != nil {
				return record{}, s.fatal(err)
			}
			s.array = true
		}
	}
	if s.array && s.dec.PeekKind() == ']' {
		if _, err := s.dec.ReadToken(); err != nil {
			return record{}, s.fatal(err)
		}
		s.array = false
	}
	v, err := s.dec.ReadValue()
	if err == io.EOF && !s.array {
		s.done = io.EOF
		return record{}, io.EOF
	}
	if err != nil {
		return record{}, s.fatal(err)
	}
	s.n++
	start := s.dec.InputOffset() - int64(len(v))
	loc := Location{File: s.file, Line: s.lines.lineAt(start), Record: s.n}
	if len(v) > s.max {
		return record{}, &BadRecord{Location: loc, Reason: fmt.Sprintf("record is %d bytes, over the %d-byte record limit", len(v), s.max)}
	}
	return record{data: v, loc: loc}, nil
}

// lineCounter remembers where the newlines are in the part of a stream a JSON
// decoder has read ahead, so that a byte offset can be turned into a line
// number without keeping the stream. Offsets asked for must not decrease.
type lineCounter struct {
	r     io.Reader
	off   int64
	nl    []int64 // offsets of newlines at or after the last offset asked for
	lines int     // newlines before that
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		c.nl = append(c.nl, c.off+int64(i+j))
		i += j + 1
	}
	c.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of the byte at offset off.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.nl) && c.nl[i] < off {
		i++
	}
	c.lines += i
	c.nl = c.nl[i:]
	return c.lines + 1
}

// jsonOptions are the options for detection's look at a sample record, which
// should not fail on a stray invalid byte.
var jsonOptions = json.JoinOptions(jsontext.AllowInvalidUTF8(true))
