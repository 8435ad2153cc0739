package dataset

// Parquet reading and writing.
//
// Reading turns every row of any Parquet file into a JSON object — the file's
// column names as keys, groups as objects, LIST as arrays, MAP as objects,
// timestamps as RFC 3339 strings, byte arrays as strings, nulls as null — and
// hands it to the same format decoders as JSONL, so WildChat or LMSYS-Chat-1M
// read the same from either layout. Rows are read row group by row group, a
// small batch at a time; the file is never held in memory.
//
// Writing produces valuescope's normalised conversations with a flat schema
// that pandas, DuckDB and polars read directly:
//
//	id string, source string,
//	turns list<struct{role string, content string, meta string}>,
//	meta string
//
// where each meta is a JSON object as text ("" when there is none). The one
// special case on reading undoes this: a string column named "meta" whose
// value is a JSON object is read as that object, and an empty one as null.

import (
	"bytes"
	"encoding/binary"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/go-json-experiment/json"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
	"github.com/valuescope/valuescope/host/conversation"
)

// parquetBatch is how many rows are read from a row group at a time.
const parquetBatch = 32

type parquetSource struct {
	path   string
	meta   *format.FileMetaData // the footer as checkParquetFooter decoded it
	groups []parquet.RowGroup
	scan   pageScanner
	g      int          // next row group
	rows   parquet.Rows // rows of the current row group, or nil
	eof    bool         // rows has no more after the batch
	batch  []parquet.Row
	n, i   int   // rows in batch, next to convert
	row    int64 // rows handed out so far
	conv   *rowConverter
	buf    []byte
	failed error
}

// openParquet reads f (already known to start with "PAR1") row by row.
func openParquet(f *os.File, path string) (src recordSource, err error) {
	defer func() {
		if p := recover(); p != nil { // parquet-go panics on some malformed footers
			src, err = nil, fmt.Errorf("%s: parquet: unreadable file: %v", path, p)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: %w", path, err)
	}
	// parquet-go trusts what the footer declares; check it first (see
	// "Corrupt files" below).
	meta, err := checkParquetFooter(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %w", path, err)
	}
	if len(pf.RowGroups()) != len(meta.RowGroups) {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %d row groups, footer lists %d",
			path, len(pf.RowGroups()), len(meta.RowGroups))
	}
	conv, err := newRowConverter(pf.Root())
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: %w", path, err)
	}
	return &parquetSource{
		path:   path,
		meta:   meta,
		groups: pf.RowGroups(),
		scan:   pageScanner{r: f},
		batch:  make([]parquet.Row, parquetBatch),
		conv:   conv,
	}, nil
}

func (s *parquetSource) container() string { return "parquet" }

func (s *parquetSource) next() (record, error) {
	for {
		if s.failed != nil {
			return record{}, s.failed
		}
		if s.i < s.n {
			row := s.batch[s.i]
			s.i++
			s.row++
			loc := Location{File: s.path, Record: s.row, Parquet: true}
			data, err := s.conv.convert(s.buf[:0], row)
			s.buf = data
			if err != nil {
				return record{}, &BadRecord{loc, err.Error()}
			}
			return record{data: data, loc: loc}, nil
		}
		if s.rows != nil && s.eof {
			s.rows.Close()
			s.rows = nil
		}
		if s.rows == nil {
			if s.g >= len(s.groups) {
				s.failed = io.EOF
				continue
			}
			// Check the row group's pages before parquet-go reads them.
			if err := s.scan.rowGroup(s.meta, s.g); err != nil {
				s.failed = fmt.Errorf("%s: parquet: row group %d: %w", s.path, s.g, err)
				continue
			}
			s.rows, s.eof = s.groups[s.g].Rows(), false
			s.g++
		}
		s.i, s.n = 0, 0
		n, err := s.readRows()
		switch {
		case err == io.EOF || (err == nil && n == 0):
			s.eof = true
		case err != nil:
			s.failed = fmt.Errorf("%s: parquet: reading row group %d at row %d: %w", s.path, s.g-1, s.row, err)
			continue
		}
		s.n = n
	}
}

// readRows reads the next batch, turning a panic on corrupt pages into an
// error.
func (s *parquetSource) readRows() (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("corrupt data: %v", p)
		}
	}()
	return s.rows.ReadRows(s.batch)
}

// Corrupt files.
//
// parquet-go trusts the sizes and counts a file declares. The footer length,
// the length of every thrift list and string, a page's compressed and
// uncompressed sizes and a compressed stream's own idea of its decoded size
// are allocated before anything holds them to the bytes actually there; a
// schema's nesting and its leaf count times its row groups size slabs that
// grow quadratically; an LZ4_RAW page that does not decode makes parquet-go
// double its buffer until memory runs out; unknown thrift fields are skipped
// recursively, however deep. One damaged byte can so ask for gigabytes, and an
// out-of-memory or stack overflow kills the process: recover cannot help.
//
// So checkParquetFooter walks the footer before parquet-go sees it, and
// pageScanner walks the page headers of each row group, and the framing of its
// compressed pages, before parquet-go reads it. Every declared size must fit
// in the bytes that follow it, and within the limits below; thrift nesting is
// bounded; an LZ4_RAW page must decode. This costs a second read of each page
// header and of a SNAPPY page's first bytes, and of whole ZSTD, LZ4_RAW, GZIP
// and BROTLI pages, whose frames are walked or which are trial-decoded within
// a bound.
//
// Not covered: the values inside a page are decoded by parquet-go alone, and
// a damaged run length (RLE, bit-packed) or DELTA header there can still make
// it allocate up to a few GB for one page, as can a row whose repeated field
// spans enough pages of RLE-encoded nulls. Checking those would mean decoding
// every page twice.

const (
	// parquetMaxFooter bounds the footer (its FileMetaData).
	parquetMaxFooter = 256 << 20
	// parquetMaxPageBytes bounds what one page decompresses to.
	parquetMaxPageBytes = 256 << 20
	// parquetMaxPageValues bounds the values one page declares: parquet-go
	// sizes level and offset buffers from it.
	parquetMaxPageValues = 1 << 24
	// thriftMaxDepth bounds the nesting of thrift structs and containers; the
	// Parquet metadata needs about a dozen levels.
	thriftMaxDepth = 64
)

// checkParquetFooter checks the footer of the Parquet file r of the given
// size and returns it decoded.
func checkParquetFooter(r io.ReaderAt, size int64) (*format.FileMetaData, error) {
	if size < 12 {
		return nil, fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	switch string(tail[4:]) {
	case "PAR1":
	case "PARE":
		return nil, errors.New("encrypted Parquet files are not supported")
	default:
		return nil, fmt.Errorf("no Parquet footer (ends with %q, not \"PAR1\"): truncated?", tail[4:])
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return nil, fmt.Errorf("footer length %d exceeds the file (%d bytes)", n, size)
	}
	if n > parquetMaxFooter {
		return nil, fmt.Errorf("footer of %d bytes exceeds the limit of %d", n, parquetMaxFooter)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return nil, err
	}
	w := thriftWalk{b: footer, avail: len(footer), budget: thriftBudget(len(footer))}
	if err := w.structure(0); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	meta := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer[:w.pos], meta); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}

	// The schema: its nesting (parquet-go's schema slabs grow with its
	// square) and leaf count.
	leaves := 0
	var open []int32 // children left to come at each open group
	for i := range meta.Schema {
		if len(open) > parquet.MaxColumnDepth {
			return nil, fmt.Errorf("footer: schema nested more than %d levels", parquet.MaxColumnDepth)
		}
		e := &meta.Schema[i]
		if e.Type.Valid {
			leaves++
		}
		if e.NumChildren.Valid && e.NumChildren.V > 0 {
			open = append(open, e.NumChildren.V)
			continue
		}
		for len(open) > 0 {
			open[len(open)-1]--
			if open[len(open)-1] > 0 {
				break
			}
			open = open[:len(open)-1]
		}
	}
	// Row groups: one chunk per leaf column (parquet-go allocates leaves
	// times row groups before checking), each inside the data, between the
	// leading magic and the footer.
	dataEnd := size - 8 - n
	for g := range meta.RowGroups {
		rg := &meta.RowGroups[g]
		if len(rg.Columns) != leaves {
			return nil, fmt.Errorf("footer: row group %d has %d column chunks for %d columns", g, len(rg.Columns), leaves)
		}
		if rg.NumRows < 0 {
			return nil, fmt.Errorf("footer: row group %d has %d rows", g, rg.NumRows)
		}
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			if cc.FilePath != "" {
				return nil, fmt.Errorf("footer: row group %d, column %d is in another file (%q): not supported", g, c, cc.FilePath)
			}
			start, total := chunkStart(&cc.MetaData), cc.MetaData.TotalCompressedSize
			if total != 0 && (start < 4 || total < 0 || start > dataEnd || total > dataEnd-start) {
				return nil, fmt.Errorf("footer: row group %d, column %d: chunk of %d bytes at offset %d is outside the data (bytes 4 to %d)",
					g, c, total, start, dataEnd)
			}
		}
	}
	return meta, nil
}

// chunkStart is where parquet-go starts reading a column chunk.
func chunkStart(m *format.ColumnMetaData) int64 {
	if m.DictionaryPageOffset != 0 {
		return m.DictionaryPageOffset
	}
	return m.DataPageOffset
}

// pageScanner checks the pages of a row group.
type pageScanner struct {
	r   io.ReaderAt
	buf []byte // page header or page data
	out []byte // decoded LZ4_RAW page
}

// rowGroup checks the pages of every column chunk of row group g.
func (p *pageScanner) rowGroup(meta *format.FileMetaData, g int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("checking pages: %v", r)
		}
		if cap(p.buf) > 1<<20 { // keep no large buffer between row groups
			p.buf = nil
		}
		p.out = nil
	}()
	for c := range meta.RowGroups[g].Columns {
		m := &meta.RowGroups[g].Columns[c].MetaData
		// parquet-go decompresses every row group with the first one's codec.
		codec := meta.RowGroups[0].Columns[c].MetaData.Codec
		if err := p.chunk(m, codec); err != nil {
			name := strings.Join(m.PathInSchema, ".")
			if name == "" {
				name = strconv.Itoa(c)
			}
			return fmt.Errorf("column %q: %w", name, err)
		}
	}
	return nil
}

// chunk checks the pages of one column chunk, as far as parquet-go may read:
// to the end of the chunk.
func (p *pageScanner) chunk(m *format.ColumnMetaData, codec format.CompressionCodec) error {
	pos := chunkStart(m)
	end := pos + m.TotalCompressedSize
	for pos < end {
		h, n, err := p.header(pos, end)
		if err != nil {
			return fmt.Errorf("page header at offset %d: %w", pos, err)
		}
		pos += int64(n)
		if err := p.page(h, codec, pos, end); err != nil {
			return fmt.Errorf("page at offset %d: %w", pos, err)
		}
		pos += int64(h.CompressedPageSize)
	}
	return nil
}

// header reads and checks the page header at pos, returning it and its
// length.
func (p *pageScanner) header(pos, end int64) (*format.PageHeader, int, error) {
	avail := end - pos
	if avail > math.MaxInt32 {
		avail = math.MaxInt32
	}
	size := min(avail, 512)
	for {
		if int64(cap(p.buf)) < size {
			p.buf = make([]byte, size)
		}
		b := p.buf[:size]
		if _, err := p.r.ReadAt(b, pos); err != nil {
			return nil, 0, err
		}
		w := thriftWalk{b: b, avail: int(avail), budget: thriftBudget(len(b))}
		err := w.structure(0)
		if err == errThriftShort && size < avail {
			size = min(avail, 4*size) // a long header: statistics
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		h := new(format.PageHeader)
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[:w.pos], h); err != nil {
			return nil, 0, err
		}
		return h, w.pos, nil
	}
}

// page checks a page's header against the chunk bytes left after it, from
// pos to end, and the framing of its compressed data.
func (p *pageScanner) page(h *format.PageHeader, codec format.CompressionCodec, pos, end int64) error {
	size := int64(h.CompressedPageSize)
	if size < 0 || size > end-pos {
		return fmt.Errorf("%d bytes declared, %d left in the column chunk", size, end-pos)
	}
	if h.UncompressedPageSize < 0 {
		return fmt.Errorf("uncompressed size %d", h.UncompressedPageSize)
	}
	var values int32
	compressed := size // the compressed part, at the end of the page
	switch h.Type {
	case format.DataPage:
		values = h.DataPageHeader.V.NumValues
	case format.DictionaryPage:
		values = h.DictionaryPageHeader.V.NumValues
	case format.DataPageV2:
		v2 := &h.DataPageHeaderV2.V
		values = v2.NumValues
		levels := int64(v2.RepetitionLevelsByteLength) + int64(v2.DefinitionLevelsByteLength)
		if v2.NumNulls < 0 || v2.NumRows < 0 || v2.RepetitionLevelsByteLength < 0 || v2.DefinitionLevelsByteLength < 0 || levels > size {
			return errors.New("invalid data page v2 header")
		}
		compressed = size - levels
		if v2.IsCompressed.Valid && !v2.IsCompressed.V {
			compressed = 0
		}
	default: // parquet-go reads no other page
		return nil
	}
	if values < 0 || values > parquetMaxPageValues {
		return fmt.Errorf("%d values declared, over the limit of %d", values, parquetMaxPageValues)
	}
	if compressed == 0 || codec == format.Uncompressed {
		return nil
	}
	// parquet-go allocates the uncompressed size before decompressing.
	if h.UncompressedPageSize > parquetMaxPageBytes {
		return fmt.Errorf("uncompressed size %d is over the limit of %d", h.UncompressedPageSize, parquetMaxPageBytes)
	}
	if err := p.compressed(codec, pos+size-compressed, compressed, int(h.UncompressedPageSize)); err != nil {
		return fmt.Errorf("%s data: %w", codec, err)
	}
	return nil
}

// compressed checks the n bytes of compressed page data at off, declared to
// decompress to size bytes, so that parquet-go's decoding of them stays
// within parquetMaxPageBytes and ends.
func (p *pageScanner) compressed(codec format.CompressionCodec, off, n int64, size int) error {
	switch codec {
	case format.Snappy: // decoded length first, allocated by the decoder
		var b [binary.MaxVarintLen32]byte
		k := min(n, int64(len(b)))
		if _, err := p.r.ReadAt(b[:k], off); err != nil {
			return err
		}
		d, err := snappy.DecodedLen(b[:k])
		if err != nil {
			return err
		}
		if d > max(size, 0) {
			return fmt.Errorf("decodes to %d bytes, the page declares %d", d, size)
		}
		return nil
	case format.Zstd, format.Lz4Raw, format.Gzip, format.Brotli:
	default:
		return nil // parquet-go rejects the codec
	}
	if int64(cap(p.buf)) < n {
		p.buf = make([]byte, n)
	}
	src := p.buf[:n]
	if _, err := p.r.ReadAt(src, off); err != nil {
		return err
	}
	var r io.Reader // GZIP and BROTLI: parquet-go reads the stream to its end
	switch codec {
	case format.Zstd:
		return zstdCheck(src)
	case format.Lz4Raw:
		return p.lz4(src, size)
	case format.Gzip:
		z, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil // parquet-go fails the same way
		}
		r = z
	default:
		r = brotli.NewReader(bytes.NewReader(src))
	}
	if k, _ := io.Copy(io.Discard, io.LimitReader(r, parquetMaxPageBytes+1)); k > parquetMaxPageBytes {
		return fmt.Errorf("decodes to more than %d bytes", parquetMaxPageBytes)
	}
	return nil
}

// lz4 checks that an LZ4_RAW page declared to decode to size bytes decodes.
// parquet-go decodes into at least max(size, 3n) bytes and, as long as that
// fails, doubles the buffer, forever. LZ4 expands at most 255 times: if the
// data does not decode into that, it never will.
func (p *pageScanner) lz4(src []byte, size int) error {
	limit := min(256*len(src)+1024, parquetMaxPageBytes)
	out := min(max(size, 3*len(src)), limit)
	for {
		if cap(p.out) < out {
			p.out = make([]byte, out)
		}
		_, err := lz4.UncompressBlock(src, p.out[:out])
		if err == nil || out == limit {
			return err
		}
		out = limit
	}
}

// zstdCheck walks the frames and blocks of zstd data and checks that what
// klauspost/compress (parquet-go's zstd) allocates and decodes for them stays
// within parquetMaxPageBytes: each frame's declared content size, which it
// allocates, and each frame's output, which it holds to the content size when
// there is one and otherwise to the frame's block sizes.
func zstdCheck(b []byte) error {
	const blockMax = 128 << 10
	errShort := errors.New("truncated frame")
	var total int64
	for len(b) > 0 {
		if len(b) < 5 {
			return errShort
		}
		magic := binary.LittleEndian.Uint32(b)
		if magic&^0xf == 0x184d2a50 { // skippable frame
			if len(b) < 8 || int64(binary.LittleEndian.Uint32(b[4:])) > int64(len(b)-8) {
				return errShort
			}
			b = b[8+binary.LittleEndian.Uint32(b[4:]):]
			continue
		}
		if magic != 0xfd2fb528 {
			return fmt.Errorf("not a zstd frame (magic %#x)", magic)
		}
		fhd := b[4]
		single := fhd&0x20 != 0
		p := 5
		window := int64(-1)
		if !single {
			if len(b) <= p {
				return errShort
			}
			wd := b[p]
			p++
			base := int64(1) << (10 + wd>>3)
			window = base + base/8*int64(wd&7)
		}
		p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
		fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
		if fcsLen == 0 && single {
			fcsLen = 1
		}
		if len(b) < p+fcsLen {
			return errShort
		}
		fcs := int64(-1) // unknown
		switch fcsLen {
		case 1:
			fcs = int64(b[p])
		case 2:
			fcs = int64(binary.LittleEndian.Uint16(b[p:])) + 256
		case 4:
			fcs = int64(binary.LittleEndian.Uint32(b[p:]))
		case 8:
			if v := binary.LittleEndian.Uint64(b[p:]); v <= parquetMaxPageBytes {
				fcs = int64(v)
			} else {
				fcs = parquetMaxPageBytes + 1
			}
		}
		if fcs > parquetMaxPageBytes {
			return fmt.Errorf("frame declares %d bytes, over the limit of %d", fcs, parquetMaxPageBytes)
		}
		if single {
			window = fcs
		}
		b = b[p+fcsLen:]
		var out int64
		for {
			if len(b) < 3 {
				return errShort
			}
			h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			size := int64(h >> 3)
			b = b[3:]
			switch h >> 1 & 3 {
			case 0: // raw
				out += size
			case 1: // RLE: one byte, repeated
				out, size = out+size, 1
			case 2: // compressed: at most a block
				out += min(window, blockMax)
			default:
				return errors.New("reserved block type")
			}
			if size > int64(len(b)) {
				return errShort
			}
			b = b[size:]
			if total+out > parquetMaxPageBytes {
				return fmt.Errorf("decodes to more than %d bytes", parquetMaxPageBytes)
			}
			if h&1 != 0 { // last block
				break
			}
		}
		if fhd&0x04 != 0 { // checksum
			if len(b) < 4 {
				return errShort
			}
			b = b[4:]
		}
		if fcs >= 0 { // decoding stops a block past the content size
			out = min(out, fcs+blockMax)
		}
		total += out
	}
	return nil
}

// thriftBudget bounds what decoding n bytes of thrift may allocate: a decoder
// allocates a list's elements before decoding them, so n bytes of one-byte
// structs can cost far more than n.
func thriftBudget(n int) int64 { return 64<<20 + 16*int64(n) }

var errThriftShort = errors.New("thrift: need more bytes")

// thriftWalk walks thrift compact-protocol data without decoding it, checking
// that every declared length fits in what is left, that nesting stays within
// thriftMaxDepth, and that the decoder's allocations stay within budget.
type thriftWalk struct {
	b      []byte
	pos    int
	avail  int   // bytes that exist from b[0] on; more than len(b) when b is a prefix
	cost   int64 // what a decoder allocates, roughly
	budget int64
}

// need checks that n more bytes exist, and returns errThriftShort when they
// do but b does not hold them yet.
func (w *thriftWalk) need(n uint64) error {
	if n > uint64(w.avail-w.pos) {
		return fmt.Errorf("thrift: %d bytes declared, %d left", n, w.avail-w.pos)
	}
	if n > uint64(len(w.b)-w.pos) {
		return errThriftShort
	}
	return nil
}

func (w *thriftWalk) skip(n uint64) error {
	if err := w.need(n); err != nil {
		return err
	}
	w.pos += int(n)
	return nil
}

func (w *thriftWalk) byte() (byte, error) {
	if err := w.need(1); err != nil {
		return 0, err
	}
	w.pos++
	return w.b[w.pos-1], nil
}

func (w *thriftWalk) uvarint() (uint64, error) {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("thrift: varint overflows 64 bits")
}

// length reads a list, map or binary length.
func (w *thriftWalk) length() (uint64, error) {
	n, err := w.uvarint()
	if err == nil && n > math.MaxInt32 {
		err = fmt.Errorf("thrift: length %d out of range", n)
	}
	return n, err
}

// charge adds n elements of thrift type t to the cost.
func (w *thriftWalk) charge(n uint64, t byte) error {
	per := uint64(16)
	switch t {
	case 8, 9, 10: // binary, list, set: a slice
		per = 24
	case 11: // map
		per = 48
	case 12: // struct: parquet's largest, ColumnChunk, is 560 bytes
		per = 1024
	}
	w.cost += int64(n * per) // n < 2^31
	if w.cost > w.budget {
		return fmt.Errorf("thrift: declares over %d bytes of data", w.budget)
	}
	return nil
}

// structure walks a struct, at nesting depth depth.
func (w *thriftWalk) structure(depth int) error {
	if depth >= thriftMaxDepth {
		return fmt.Errorf("thrift: nested over %d levels", thriftMaxDepth)
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		if h&0xf == 0 { // stop (parquet-go takes any field of type 0 for one)
			return nil
		}
		if h>>4 == 0 { // long form: the field ID follows
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		if err := w.value(h&0xf, depth+1, false); err != nil {
			return err
		}
	}
}

// value walks a value of thrift type t; elem is true for container elements.
func (w *thriftWalk) value(t byte, depth int, elem bool) error {
	switch t {
	case 1, 2: // bool: a field's is in its type, an element's is a byte
		if elem {
			return w.skip(1)
		}
		return nil
	case 3: // i8
		return w.skip(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.uvarint()
		return err
	case 7: // double
		return w.skip(8)
	case 8: // binary
		n, err := w.length()
		if err == nil {
			err = w.need(n)
		}
		if err == nil {
			err = w.charge(n, 3)
		}
		if err == nil {
			w.pos += int(n)
		}
		return err
	case 9, 10: // list, set
		if depth >= thriftMaxDepth {
			return fmt.Errorf("thrift: nested over %d levels", thriftMaxDepth)
		}
		h, err := w.byte()
		if err != nil {
			return err
		}
		n, et := uint64(h>>4), h&0xf
		if n == 15 {
			if n, err = w.length(); err != nil {
				return err
			}
		}
		return w.elems(n, et, 0, depth)
	case 11: // map
		if depth >= thriftMaxDepth {
			return fmt.Errorf("thrift: nested over %d levels", thriftMaxDepth)
		}
		n, err := w.length()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		return w.elems(n, kv>>4, kv&0xf, depth)
	case 12:
		return w.structure(depth)
	case 13: // uuid
		return w.skip(16)
	}
	return fmt.Errorf("thrift: invalid type %d", t)
}

// elems walks n container elements of type t, or n map entries of key type
// t and value type v.
func (w *thriftWalk) elems(n uint64, t, v byte, depth int) error {
	if n == 0 {
		return nil
	}
	per := uint64(1)
	if v != 0 {
		per = 2
	}
	// Every element takes a byte at least: check the count before walking.
	if err := w.need(n * per); err != nil {
		if err != errThriftShort {
			err = fmt.Errorf("thrift: %d elements declared, %d bytes left", n, w.avail-w.pos)
		}
		return err
	}
	if err := w.charge(n, t); err != nil {
		return err
	}
	if v != 0 {
		if err := w.charge(n, v); err != nil {
			return err
		}
	}
	for range n {
		if err := w.value(t, depth+1, true); err != nil {
			return err
		}
		if v != 0 {
			if err := w.value(v, depth+1, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Row to JSON.
//
// The schema is compiled once into a tree of pqNodes. A row is the values of
// every leaf column in column order, each with its repetition and definition
// levels; convert walks the tree with one cursor per leaf column, consuming
// the values each node owns (the usual Dremel record assembly).

type pqKind uint8

const (
	pqLeaf pqKind = iota
	pqObject
	pqList
	pqMap
)

type leafKind uint8

const (
	lkRaw leafKind = iota // byte arrays and anything unrecognised: a string
	lkBool
	lkInt    // signed integers
	lkUint32 // unsigned INT32
	lkUint64 // unsigned INT64
	lkFloat
	lkDouble
	lkJSON      // JSON logical type: embedded when valid
	lkMeta      // a string column named "meta": see the package comment
	lkDate      // days since 1970-01-01
	lkTime      // time of day
	lkTimestamp // since the Unix epoch, in unit
	lkInt96     // legacy INT96 timestamps
	lkDecimal
	lkUUID
	lkFloat16
	lkNull
)

type pqNode struct {
	kind     pqKind
	key      []byte // `"name":`
	optional bool   // null when the definition level is below def
	def      int
	// list and map: the repeated group's levels; below rdef the list is empty.
	rdef, rrep  int
	first, last int // leaf columns [first, last)
	fields      []*pqNode
	elem        *pqNode // list element
	mkey, mval  *pqNode // map key and value (mval may be nil)
	// leaves
	leaf  leafKind
	unit  int64 // time units per second, for time and timestamps
	scale int   // decimal scale
}

type rowConverter struct {
	root *pqNode
	cols [][]parquet.Value
	pos  []int
	err  error
	big  big.Int
}

func newRowConverter(root *parquet.Column) (*rowConverter, error) {
	c := &rowConverter{}
	leaves := 0
	n := &pqNode{kind: pqObject}
	for _, f := range root.Fields() {
		child, err := compileField(f, f.Name(), 0, 0, &leaves)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, child)
	}
	n.last = leaves
	c.root = n
	c.cols = make([][]parquet.Value, leaves)
	c.pos = make([]int, leaves)
	return c, nil
}

// compileField compiles a field under a parent at definition level def and
// repetition level rep. A repeated field outside a LIST becomes a list of it.
func compileField(f parquet.Node, name string, def, rep int, leaves *int) (*pqNode, error) {
	if f.Repeated() {
		first := *leaves
		elem, err := compileValue(f, name, false, def+1, rep+1, leaves)
		if err != nil {
			return nil, err
		}
		return &pqNode{kind: pqList, key: jsonKey(name), def: def, rdef: def + 1, rrep: rep + 1,
			first: first, last: *leaves, elem: elem}, nil
	}
	if f.Optional() {
		def++
	}
	return compileValue(f, name, f.Optional(), def, rep, leaves)
}

// compileValue compiles the value of node n, present at definition level def.
func compileValue(n parquet.Node, name string, optional bool, def, rep int, leaves *int) (*pqNode, error) {
	if def > parquet.MaxColumnDepth {
		return nil, fmt.Errorf("column %q: schema nested too deeply", name)
	}
	node := &pqNode{key: jsonKey(name), optional: optional, def: def, first: *leaves}
	if n.Leaf() {
		node.kind = pqLeaf
		compileLeaf(node, n.Type(), name)
		*leaves++
		node.last = *leaves
		return node, nil
	}
	fields := n.Fields()
	var lt *format.LogicalType
	if t := n.Type(); t != nil {
		lt = t.LogicalType()
	}
	// LIST: <opt> group (LIST) { repeated group list { <opt> element } },
	// or one of the older two-level shapes, where the repeated child is itself
	// the element.
	if lt != nil && len(fields) == 1 && fields[0].Repeated() {
		r := fields[0]
		switch lt.Value.(type) {
		case *format.ListType:
			node.kind, node.rdef, node.rrep = pqList, def+1, rep+1
			var err error
			if r.Leaf() || len(r.Fields()) != 1 || r.Name() == "array" || r.Name() == name+"_tuple" {
				node.elem, err = compileValue(r, "", false, def+1, rep+1, leaves)
			} else {
				e := r.Fields()[0]
				node.elem, err = compileField(e, e.Name(), def+1, rep+1, leaves)
			}
			node.last = *leaves
			return node, err
		case *format.MapType:
			kv := r.Fields()
			if r.Leaf() || len(kv) == 0 || len(kv) > 2 {
				break
			}
			node.kind, node.rdef, node.rrep = pqMap, def+1, rep+1
			var err error
			if node.mkey, err = compileField(kv[0], kv[0].Name(), def+1, rep+1, leaves); err != nil {
				return nil, err
			}
			if len(kv) == 2 {
				if node.mval, err = compileField(kv[1], kv[1].Name(), def+1, rep+1, leaves); err != nil {
					return nil, err
				}
			}
			node.last = *leaves
			return node, nil
		}
	}
	node.kind = pqObject
	for _, f := range fields {
		child, err := compileField(f, f.Name(), def, rep, leaves)
		if err != nil {
			return nil, err
		}
		node.fields = append(node.fields, child)
	}
	node.last = *leaves
	if node.last == node.first {
		return nil, fmt.Errorf("column %q: group with no columns", name)
	}
	return node, nil
}

func compileLeaf(n *pqNode, t parquet.Type, name string) {
	kind := t.Kind()
	n.leaf = lkRaw
	switch kind {
	case parquet.Boolean:
		n.leaf = lkBool
	case parquet.Int32, parquet.Int64:
		n.leaf = lkInt
	case parquet.Float:
		n.leaf = lkFloat
	case parquet.Double:
		n.leaf = lkDouble
	case parquet.Int96:
		n.leaf = lkInt96
		n.unit = 1e9
	}
	lt := t.LogicalType()
	if lt == nil {
		return
	}
	switch v := lt.Value.(type) {
	case *format.StringType:
		if name == "meta" {
			n.leaf = lkMeta
		}
	case *format.JsonType:
		n.leaf = lkJSON
	case *format.IntType:
		switch {
		case v.IsSigned:
		case kind == parquet.Int64:
			n.leaf = lkUint64
		default:
			n.leaf = lkUint32
		}
	case *format.DateType:
		n.leaf = lkDate
	case *format.TimeType:
		n.leaf, n.unit = lkTime, unitsPerSecond(&v.Unit)
	case *format.TimestampType:
		n.leaf, n.unit = lkTimestamp, unitsPerSecond(&v.Unit)
	case *format.DecimalType:
		n.leaf, n.scale = lkDecimal, int(v.Scale)
	case *format.UUIDType:
		if kind == parquet.FixedLenByteArray {
			n.leaf = lkUUID
		}
	case *format.Float16Type:
		if kind == parquet.FixedLenByteArray {
			n.leaf = lkFloat16
		}
	case *format.NullType:
		n.leaf = lkNull
	}
}

func unitsPerSecond(u *format.TimeUnit) int64 {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return 1e3
	case *format.MicroSeconds:
		return 1e6
	}
	return 1e9
}

func jsonKey(name string) []byte {
	if name == "" {
		return nil
	}
	return append(appendJSONString(nil, []byte(name)), ':')
}

var errMalformedRow = errors.New("malformed row: fewer values than the schema needs")

// convert appends the JSON object for row to b.
func (c *rowConverter) convert(b []byte, row parquet.Row) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = b, fmt.Errorf("cannot convert row: %v", p)
		}
	}()
	clear(c.cols)
	for start := 0; start < len(row); {
		col := row[start].Column()
		end := start + 1
		for end < len(row) && row[end].Column() == col {
			end++
		}
		if col < 0 || col >= len(c.cols) || c.cols[col] != nil {
			return b, fmt.Errorf("malformed row: unexpected values for column %d", col)
		}
		c.cols[col] = row[start:end]
		start = end
	}
	clear(c.pos)
	c.err = nil
	b = c.value(b, c.root)
	if c.err != nil {
		return b, c.err
	}
	for i, vs := range c.cols {
		if c.pos[i] != len(vs) {
			return b, fmt.Errorf("malformed row: %d values left over in column %d", len(vs)-c.pos[i], i)
		}
	}
	return b, nil
}

// peek returns the next value of column i.
func (c *rowConverter) peek(i int) (parquet.Value, bool) {
	if c.pos[i] >= len(c.cols[i]) {
		if c.err == nil {
			c.err = errMalformedRow
		}
		return parquet.Value{}, false
	}
	return c.cols[i][c.pos[i]], true
}

// skip consumes the single value each column of n holds when n is null or
// empty.
func (c *rowConverter) skip(n *pqNode) {
	for i := n.first; i < n.last; i++ {
		c.pos[i]++
	}
}

func (c *rowConverter) value(b []byte, n *pqNode) []byte {
	if c.err != nil {
		return b
	}
	v, ok := c.peek(n.first)
	if !ok {
		return b
	}
	if n.optional && v.DefinitionLevel() < n.def {
		c.skip(n)
		return append(b, "null"...)
	}
	switch n.kind {
	case pqLeaf:
		c.pos[n.first]++
		return c.leaf(b, n, v)
	case pqObject:
		b = append(b, '{')
		for i, f := range n.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f.key...)
			b = c.value(b, f)
		}
		return append(b, '}')
	case pqList, pqMap:
		if v.DefinitionLevel() < n.rdef {
			c.skip(n)
			if n.kind == pqMap {
				return append(b, "{}"...)
			}
			return append(b, "[]"...)
		}
		open, close := byte('['), byte(']')
		if n.kind == pqMap {
			open, close = '{', '}'
		}
		b = append(b, open)
		for first := true; c.err == nil; first = false {
			if !first {
				b = append(b, ',')
			}
			if n.kind == pqList {
				b = c.value(b, n.elem)
			} else {
				b = c.mapEntry(b, n)
			}
			if c.pos[n.first] >= len(c.cols[n.first]) || c.cols[n.first][c.pos[n.first]].RepetitionLevel() != n.rrep {
				break
			}
		}
		return append(b, close)
	}
	return b
}

func (c *rowConverter) mapEntry(b []byte, n *pqNode) []byte {
	start := len(b)
	b = c.value(b, n.mkey)
	if len(b) > start && b[start] != '"' { // JSON keys are strings
		key := bytes.Clone(b[start:])
		b = appendJSONString(b[:start], key)
	}
	b = append(b, ':')
	if n.mval == nil {
		return append(b, "null"...)
	}
	return c.value(b, n.mval)
}

func (c *rowConverter) leaf(b []byte, n *pqNode, v parquet.Value) []byte {
	if v.IsNull() {
		return append(b, "null"...)
	}
	switch n.leaf {
	case lkBool:
		return strconv.AppendBool(b, v.Boolean())
	case lkInt:
		if v.Kind() == parquet.Int32 {
			return strconv.AppendInt(b, int64(v.Int32()), 10)
		}
		return strconv.AppendInt(b, v.Int64(), 10)
	case lkUint32:
		return strconv.AppendUint(b, uint64(v.Uint32()), 10)
	case lkUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case lkFloat:
		return appendFloat(b, float64(v.Float()), 32)
	case lkDouble:
		return appendFloat(b, v.Double(), 64)
	case lkJSON, lkMeta:
		s := v.ByteArray()
		if n.leaf == lkMeta && len(s) == 0 {
			return append(b, "null"...)
		}
		if len(s) > 0 && (n.leaf == lkJSON || s[0] == '{') && stdjson.Valid(s) {
			return append(b, s...)
		}
		return appendJSONString(b, s)
	case lkDate:
		t := time.Unix(int64(v.Int32())*86400, 0).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02"`)
	case lkTime:
		d := intValue(v)
		t := time.Unix(d/n.unit, d%n.unit*(1e9/n.unit)).UTC()
		return t.AppendFormat(append(b, '"'), `15:04:05.999999999"`)
	case lkTimestamp:
		d := intValue(v)
		sec, frac := d/n.unit, d%n.unit
		if frac < 0 {
			sec, frac = sec-1, frac+n.unit
		}
		t := time.Unix(sec, frac*(1e9/n.unit)).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02T15:04:05.999999999Z07:00"`)
	case lkInt96:
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
		t := time.Unix(days*86400, nanos).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02T15:04:05.999999999Z07:00"`)
	case lkDecimal:
		return c.decimal(b, n, v)
	case lkUUID:
		u := v.ByteArray()
		if len(u) != 16 {
			return appendJSONString(b, u)
		}
		const hex = "0123456789abcdef"
		b = append(b, '"')
		for i, x := range u {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				b = append(b, '-')
			}
			b = append(b, hex[x>>4], hex[x&15])
		}
		return append(b, '"')
	case lkFloat16:
		if h := v.ByteArray(); len(h) == 2 {
			return appendFloat(b, float16(uint16(h[0])|uint16(h[1])<<8), 32)
		}
	case lkNull:
		return append(b, "null"...)
	}
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return appendJSONString(b, v.ByteArray())
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(b, v.Int64(), 10)
	}
	return appendJSONString(b, []byte(v.String()))
}

func intValue(v parquet.Value) int64 {
	if v.Kind() == parquet.Int32 {
		return int64(v.Int32())
	}
	return v.Int64()
}

// decimal writes a DECIMAL as a JSON number.
func (c *rowConverter) decimal(b []byte, n *pqNode, v parquet.Value) []byte {
	var digits []byte
	switch v.Kind() {
	case parquet.Int32, parquet.Int64:
		digits = strconv.AppendInt(nil, intValue(v), 10)
	default: // big-endian two's complement
		raw := v.ByteArray()
		c.big.SetBytes(raw)
		if len(raw) > 0 && raw[0]&0x80 != 0 {
			c.big.Sub(&c.big, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		}
		digits = c.big.Append(nil, 10)
	}
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if n.scale <= 0 {
		b = append(b, digits...)
		for range -n.scale {
			b = append(b, '0')
		}
		return b
	}
	if len(digits) <= n.scale {
		b = append(b, "0."...)
		for range n.scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	k := len(digits) - n.scale
	b = append(b, digits[:k]...)
	b = append(b, '.')
	return append(b, digits[k:]...)
}

// appendFloat writes f as a JSON number; NaN and infinities, which JSON cannot
// hold, as null.
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// needEscape marks the bytes a JSON string must escape. Bytes of invalid UTF-8
// are copied as they are: the reader detects and flags them as it does for
// JSONL.
var needEscape = func() (t [256]bool) {
	for i := range 0x20 {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		x := s[i]
		if !needEscape[x] {
			continue
		}
		b = append(b, s[start:i]...)
		switch x {
		case '"', '\\':
			b = append(b, '\\', x)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[x>>4], hex[x&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Writing.

// parquetConversation is the written schema; see the package comment.
type parquetConversation struct {
	ID     string        `parquet:"id"`
	Source string        `parquet:"source,dict"`
	Turns  []parquetTurn `parquet:"turns,list"`
	Meta   string        `parquet:"meta"`
}

type parquetTurn struct {
	Role    string `parquet:"role,dict"`
	Content string `parquet:"content"`
	Meta    string `parquet:"meta"`
}

const (
	// A row group is cut at whichever comes first, so that the writer's
	// memory stays bounded whatever the size of the conversations.
	parquetRowGroupBytes = 64 << 20
	parquetRowGroupRows  = 100_000
	parquetWriteBatch    = 64
)

type parquetEncoder struct {
	w          *parquet.GenericWriter[parquetConversation]
	batch      []parquetConversation
	groupBytes int
	groupRows  int
}

func newParquetEncoder(w *os.File) encoder {
	return &parquetEncoder{
		w: parquet.NewGenericWriter[parquetConversation](w,
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
			parquet.CreatedBy("valuescope", "", ""),
		),
		batch: make([]parquetConversation, 0, parquetWriteBatch),
	}
}

func (e *parquetEncoder) write(c *conversation.Conversation) error {
	meta, err := metaText(c.Meta)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	pc := parquetConversation{ID: c.ID, Source: c.Source, Meta: meta, Turns: make([]parquetTurn, len(c.Turns))}
	size := len(c.ID) + len(c.Source) + len(meta)
	for i, t := range c.Turns {
		m, err := metaText(t.Meta)
		if err != nil {
			return fmt.Errorf("turns[%d].meta: %w", i, err)
		}
		pc.Turns[i] = parquetTurn{Role: t.Role, Content: t.Content, Meta: m}
		size += len(t.Role) + len(t.Content) + len(m)
	}
	e.batch = append(e.batch, pc)
	e.groupBytes += size
	e.groupRows++
	if len(e.batch) == cap(e.batch) {
		if err := e.flushBatch(); err != nil {
			return err
		}
	}
	if e.groupBytes >= parquetRowGroupBytes || e.groupRows >= parquetRowGroupRows {
		if err := e.flushBatch(); err != nil {
			return err
		}
		e.groupBytes, e.groupRows = 0, 0
		return e.w.Flush()
	}
	return nil
}

func (e *parquetEncoder) flushBatch() error {
	if len(e.batch) == 0 {
		return nil
	}
	_, err := e.w.Write(e.batch)
	clear(e.batch)
	e.batch = e.batch[:0]
	return err
}

func (e *parquetEncoder) close() error {
	return errors.Join(e.flushBatch(), e.w.Close())
}

// metaText is a Meta map as JSON object text, "" when empty.
func metaText(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m, json.Deterministic(true))
	return string(b), err
}
