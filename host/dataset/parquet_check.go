package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// Corrupt Parquet files: checking a file before parquet-go reads it.
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
