// Package export writes a run's results out of its store as flat files that
// spreadsheets, pandas, DuckDB and polars read directly:
//
//   - annotations.csv and annotations.parquet: one row per annotation (a
//     classifier's label or an extracted item), ordered by conversation, then
//     stage, then the annotation's order within its result;
//   - conversations.csv: one row per conversation, with each stage's status;
//   - errors.csv: the stages that failed for a conversation and the dataset
//     records set aside.
//
// Every file is written to a temporary file beside its target, synced, and
// renamed into place only once all of them are complete, so an interrupted
// export never leaves a truncated file that looks complete (a previous export
// in the folder stays as it was until the renames).
//
// Each file ends with the same metadata columns: the union over all
// conversations of the top-level keys of their metadata whose values are
// scalars (nested objects and arrays stay in the store), sorted by name, each
// named by its key — prefixed "meta." when that would collide with another
// column. Values are strings: strings as they are, numbers as the JSON text
// has them, bools as "true"/"false", and "" (null in Parquet) when missing.
//
// The store is read in one read transaction (a consistent snapshot even while
// a run is writing), twice: once to collect the metadata keys, once to write.
// Rows are streamed; memory does not grow with the size of the run.
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/store"
)

// The files an export writes.
const (
	AnnotationsCSV     = "annotations.csv"
	AnnotationsParquet = "annotations.parquet"
	ConversationsCSV   = "conversations.csv"
	ErrorsCSV          = "errors.csv"
)

// annotationColumns are the fixed columns of annotations.csv and .parquet.
var annotationColumns = []string{"conversation_id", "source", "stage", "field", "value", "kind", "attrs"}

// errorColumns are the columns of errors.csv.
var errorColumns = []string{"kind", "conversation_id", "source", "stage", "line", "record", "error"}

// Summary is what an export wrote.
type Summary struct {
	Annotations   int64 // rows of annotations.csv (and of annotations.parquet)
	Conversations int64 // rows of conversations.csv
	Errors        int64 // rows of errors.csv: StageErrors + BadRecords
	StageErrors   int64
	BadRecords    int64
	// MetaColumns are the names of the metadata columns, in order.
	MetaColumns []string
}

// Write exports the run in st into dir, created if needed,
// replacing the files of a previous export. If it fails, no temporary file
// is left and the previous files stay as they were (only a failure while
// moving the files into place can leave some new and some old).
func Write(ctx context.Context, st *store.Store, dir string) (sum Summary, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	tx, err := st.Snapshot(ctx)
	if err != nil {
		return sum, fmt.Errorf("export: reading the store: %w", err)
	}
	defer tx.Close()

	stages, err := readStages(tx)
	if err != nil {
		return sum, fmt.Errorf("export: reading the stages: %w", err)
	}
	fixed := append([]string{"conversation_id", "source"}, annotationColumns...)
	for _, st := range stages {
		fixed = append(fixed, st+"_status")
	}
	meta, err := collectMeta(tx, fixed)
	if err != nil {
		return sum, fmt.Errorf("export: reading conversation metadata: %w", err)
	}
	sum.MetaColumns = meta.columns

	var files []*tempFile
	defer func() {
		for _, f := range files {
			f.abort()
		}
	}()
	create := func(name string) (*tempFile, error) {
		f, err := newTempFile(filepath.Join(dir, name))
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}

	csvF, err := create(AnnotationsCSV)
	if err != nil {
		return sum, err
	}
	pqF, err := create(AnnotationsParquet)
	if err != nil {
		return sum, err
	}
	if sum.Annotations, err = writeAnnotations(tx, meta, csvF, pqF); err != nil {
		return sum, fmt.Errorf("export: annotations: %w", err)
	}

	convF, err := create(ConversationsCSV)
	if err != nil {
		return sum, err
	}
	if sum.Conversations, err = writeConversations(tx, stages, meta, convF); err != nil {
		return sum, fmt.Errorf("export: %s: %w", ConversationsCSV, err)
	}

	errF, err := create(ErrorsCSV)
	if err != nil {
		return sum, err
	}
	if sum.StageErrors, sum.BadRecords, err = writeErrors(tx, errF); err != nil {
		return sum, fmt.Errorf("export: %s: %w", ErrorsCSV, err)
	}
	sum.Errors = sum.StageErrors + sum.BadRecords

	// Everything is written: finish each file, then move them all into place.
	for _, f := range files {
		if err := f.finish(); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
	}
	for _, f := range files {
		if err := f.rename(); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
	}
	files = nil
	syncDir(dir)
	return sum, nil
}

// syncDir makes the renames durable where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readStages returns the configured stages' names in stage order.
func readStages(tx *store.Snapshot) ([]string, error) {
	stages, err := tx.Stages()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(stages))
	for i, st := range stages {
		names[i] = st.Name
	}
	return names, nil
}

// writeAnnotations writes annotations.csv and annotations.parquet in one pass.
func writeAnnotations(tx *store.Snapshot, meta *metaSchema, csvF, pqF *tempFile) (int64, error) {
	convs := openConversations(tx, meta)
	defer convs.close()
	// The annotations come in seq order; each conversation's own columns
	// come from the conversations cursor, in step, rather than with every
	// row.
	rows := tx.Annotations()
	defer rows.Close()

	cw := newCSVWriter(csvF.f)
	if err := cw.Write(append(slices.Clip(annotationColumns), meta.columns...)); err != nil {
		return 0, err
	}
	pw := newParquetWriter(pqF.f, meta.columns)

	var (
		n   int64
		rec = make([]string, len(annotationColumns)+len(meta.columns))
	)
	for rows.Next() {
		a := rows.Row()
		if ok, err := convs.seek(a.Seq); err != nil {
			return n, err
		} else if !ok {
			continue // no such conversation (the store never writes one)
		}
		kind := "item"
		if a.IsLabel {
			kind = "label"
		}
		rec[0], rec[1] = convs.id, convs.source
		rec[2], rec[3], rec[4], rec[5], rec[6] = validUTF8(a.Stage), validUTF8(a.Field), validUTF8(a.Value), kind, validUTF8(a.AttrsJSON)
		copy(rec[len(annotationColumns):], convs.meta.text)
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		if err := pw.write(rec, convs.meta.present); err != nil {
			return n, fmt.Errorf("%s: %w", AnnotationsParquet, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), cw.flush()); err != nil {
		return n, err
	}
	if err := pw.close(); err != nil {
		return n, fmt.Errorf("%s: %w", AnnotationsParquet, err)
	}
	return n, nil
}

// writeConversations writes conversations.csv.
func writeConversations(tx *store.Snapshot, stages []string, meta *metaSchema, f *tempFile) (int64, error) {
	convs := openConversations(tx, meta)
	defer convs.close()
	rows := tx.Results()
	defer rows.Close()

	cw := newCSVWriter(f.f)
	header := []string{"conversation_id", "source"}
	stageCol := make(map[string]int, len(stages))
	for i, st := range stages {
		header = append(header, st+"_status")
		stageCol[st] = 2 + i
	}
	if err := cw.Write(append(header, meta.columns...)); err != nil {
		return 0, err
	}

	var (
		n        int64
		rec      = make([]string, 2+len(stages)+len(meta.columns))
		metaBase = 2 + len(stages)
		res      = store.StoredResult{Seq: -1} // the pending result, if any
		pending  bool
	)
	for {
		ok, err := convs.next()
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		clear(rec)
		rec[0], rec[1] = convs.id, convs.source
		copy(rec[metaBase:], convs.meta.text)
		for {
			if !pending {
				if !rows.Next() {
					break
				}
				res, pending = rows.Row(), true
			}
			if res.Seq > convs.seq {
				break
			}
			if i, ok := stageCol[res.Stage]; ok && res.Seq == convs.seq {
				rec[i] = "error"
				if res.OK {
					rec[i] = "ok"
				}
			}
			pending = false
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, errors.Join(cw.Error(), cw.flush())
}

// conversations reads the conversations in seq order, each with its
// metadata laid out as the columns.
type conversations struct {
	rows   *store.Rows[store.Conversation]
	schema *metaSchema
	valid  bool // the current conversation is read
	done   bool

	seq        int64
	id, source string // as exported (valid UTF-8)
	meta       metaValues
}

func openConversations(tx *store.Snapshot, schema *metaSchema) *conversations {
	return &conversations{rows: tx.ConversationsWithoutHash(), schema: schema}
}

// next moves to the next conversation; false at the end.
func (c *conversations) next() (bool, error) {
	c.valid = false
	if c.done || !c.rows.Next() {
		c.done = true
		return false, c.rows.Err()
	}
	row := c.rows.Row()
	var err error
	if c.meta, err = c.schema.values(row.MetaJSON, c.meta); err != nil {
		return false, fmt.Errorf("conversation %s: metadata: %w", row.ID, err)
	}
	c.seq, c.id, c.source, c.valid = row.Seq, validUTF8(row.ID), validUTF8(row.Source), true
	return true, nil
}

// seek moves forward to the conversation seq (seqs only increase); false
// when there is none.
func (c *conversations) seek(seq int64) (bool, error) {
	for !c.valid || c.seq < seq {
		ok, err := c.next()
		if !ok || err != nil {
			return false, err
		}
	}
	return c.seq == seq, nil
}

func (c *conversations) close() { c.rows.Close() }

// writeErrors writes errors.csv: the failed stages in conversation and stage
// order, then the records set aside by file and record.
func writeErrors(tx *store.Snapshot, f *tempFile) (stageErrs, bad int64, err error) {
	cw := newCSVWriter(f.f)
	if err := cw.Write(errorColumns); err != nil {
		return 0, 0, err
	}
	rec := make([]string, len(errorColumns))

	errs := tx.Errors()
	defer errs.Close()
	for errs.Next() {
		e := errs.Row()
		rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] = "stage", validUTF8(e.ID), validUTF8(e.Source), validUTF8(e.Stage), "", "", validUTF8(e.Err)
		if err := cw.Write(rec); err != nil {
			return stageErrs, bad, err
		}
		stageErrs++
	}
	if err := errs.Err(); err != nil {
		return stageErrs, bad, err
	}

	recs := tx.BadRecords()
	defer recs.Close()
	for recs.Next() {
		r := recs.Row()
		rec[0], rec[1], rec[2], rec[3] = "bad_record", "", validUTF8(r.File), ""
		rec[4], rec[5], rec[6] = strconv.Itoa(r.Line), strconv.FormatInt(r.Record, 10), validUTF8(r.Reason)
		if err := cw.Write(rec); err != nil {
			return stageErrs, bad, err
		}
		bad++
	}
	if err := recs.Err(); err != nil {
		return stageErrs, bad, err
	}
	cw.Flush()
	return stageErrs, bad, errors.Join(cw.Error(), cw.flush())
}

// validUTF8 replaces invalid UTF-8, which a store may hold but the CSV and
// Parquet string columns must not.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// csvWriter is an encoding/csv writer over a buffered file.
type csvWriter struct {
	*csv.Writer
	buf *bufio.Writer
}

func newCSVWriter(f *os.File) *csvWriter {
	buf := bufio.NewWriterSize(f, 1<<20)
	return &csvWriter{Writer: csv.NewWriter(buf), buf: buf}
}

// flush flushes the buffer to the file (after the csv.Writer's own Flush).
func (w *csvWriter) flush() error { return w.buf.Flush() }

// tempFile is a file written beside its target and renamed into place.
type tempFile struct {
	path string
	f    *os.File
	done bool // renamed into place
}

func newTempFile(path string) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("export: creating %s: %w", path, err)
	}
	return &tempFile{path: path, f: f}, nil
}

// finish makes the file durable and closes it.
func (t *tempFile) finish() error {
	// CreateTemp makes the file private (0600); the result is an ordinary file.
	if err := errors.Join(t.f.Chmod(0o644), t.f.Sync(), t.f.Close()); err != nil {
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	return nil
}

func (t *tempFile) rename() error {
	if err := os.Rename(t.f.Name(), t.path); err != nil {
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	t.done = true
	return nil
}

// abort removes the temporary file if it was not moved into place.
func (t *tempFile) abort() {
	if !t.done {
		t.f.Close()
		os.Remove(t.f.Name())
	}
}
