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
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The files an export writes.
const (
	AnnotationsCSV     = "annotations.csv"
	AnnotationsParquet = "annotations.parquet"
	ConversationsCSV   = "conversations.csv"
	ErrorsCSV          = "errors.csv"
)

// labelAttrs marks a classifier's label row among the annotations (see
// host/store).
const labelAttrs = `{"label":"1"}`

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

// Write exports the run in db (a store's DB) into dir, created if needed,
// replacing the files of a previous export. If it fails, no temporary file
// is left and the previous files stay as they were (only a failure while
// moving the files into place can leave some new and some old).
func Write(ctx context.Context, db *sql.DB, dir string) (sum Summary, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return sum, fmt.Errorf("export: reading the store: %w", err)
	}
	defer tx.Rollback()

	stages, err := readStages(ctx, tx)
	if err != nil {
		return sum, fmt.Errorf("export: reading the stages: %w", err)
	}
	fixed := append([]string{"conversation_id", "source"}, annotationColumns...)
	for _, st := range stages {
		fixed = append(fixed, st+"_status")
	}
	meta, err := collectMeta(ctx, tx, fixed)
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
	if sum.Annotations, err = writeAnnotations(ctx, tx, meta, csvF, pqF); err != nil {
		return sum, fmt.Errorf("export: annotations: %w", err)
	}

	convF, err := create(ConversationsCSV)
	if err != nil {
		return sum, err
	}
	if sum.Conversations, err = writeConversations(ctx, tx, stages, meta, convF); err != nil {
		return sum, fmt.Errorf("export: %s: %w", ConversationsCSV, err)
	}

	errF, err := create(ErrorsCSV)
	if err != nil {
		return sum, err
	}
	if sum.StageErrors, sum.BadRecords, err = writeErrors(ctx, tx, errF); err != nil {
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
func readStages(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM stages ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// writeAnnotations writes annotations.csv and annotations.parquet in one pass.
func writeAnnotations(ctx context.Context, tx *sql.Tx, meta *metaSchema, csvF, pqF *tempFile) (int64, error) {
	convs, err := openConversations(ctx, tx, meta)
	if err != nil {
		return 0, err
	}
	defer convs.close()
	// The annotations' primary key (seq, stage, ord) gives the seq order;
	// SQLite sorts only within each conversation to put stages in position
	// order, so the sort stays small. Each conversation's own columns come
	// from the conversations cursor, in step, rather than with every row.
	rows, err := tx.QueryContext(ctx, `
		SELECT a.seq, a.stage, a.field, a.value, a.attrs_json
		FROM annotations a
		JOIN stages s ON s.name = a.stage
		ORDER BY a.seq, s.position, a.ord`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	cw := newCSVWriter(csvF.f)
	if err := cw.Write(append(slices.Clip(annotationColumns), meta.columns...)); err != nil {
		return 0, err
	}
	pw := newParquetWriter(pqF.f, meta.columns)

	var (
		n                          int64
		rec                        = make([]string, len(annotationColumns)+len(meta.columns))
		seq                        int64
		stage, field, value, attrs string
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &stage, &field, &value, &attrs); err != nil {
			return n, err
		}
		if ok, err := convs.seek(seq); err != nil {
			return n, err
		} else if !ok {
			continue // no such conversation (the store never writes one)
		}
		kind := "item"
		if attrs == labelAttrs {
			kind, attrs = "label", ""
		}
		rec[0], rec[1] = convs.id, convs.source
		rec[2], rec[3], rec[4], rec[5], rec[6] = validUTF8(stage), validUTF8(field), validUTF8(value), kind, validUTF8(attrs)
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
func writeConversations(ctx context.Context, tx *sql.Tx, stages []string, meta *metaSchema, f *tempFile) (int64, error) {
	convs, err := openConversations(ctx, tx, meta)
	if err != nil {
		return 0, err
	}
	defer convs.close()
	rows, err := tx.QueryContext(ctx, `SELECT seq, stage, status FROM results ORDER BY seq`)
	if err != nil {
		return 0, err
	}
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
		n             int64
		rec                 = make([]string, 2+len(stages)+len(meta.columns))
		metaBase            = 2 + len(stages)
		seq           int64 = -1 // of the pending result, if any
		pending       bool
		stage, status string
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
				if err := rows.Scan(&seq, &stage, &status); err != nil {
					return n, err
				}
				pending = true
			}
			if seq > convs.seq {
				break
			}
			if i, ok := stageCol[stage]; ok && seq == convs.seq {
				rec[i] = status
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
	rows   *sql.Rows
	schema *metaSchema
	valid  bool // the current conversation is read
	done   bool

	seq        int64
	id, source string // as exported (valid UTF-8)
	meta       metaValues
	metaJSON   string
}

func openConversations(ctx context.Context, tx *sql.Tx, schema *metaSchema) (*conversations, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, source, meta_json FROM conversations ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	return &conversations{rows: rows, schema: schema}, nil
}

// next moves to the next conversation; false at the end.
func (c *conversations) next() (bool, error) {
	c.valid = false
	if c.done || !c.rows.Next() {
		c.done = true
		return false, c.rows.Err()
	}
	if err := c.rows.Scan(&c.seq, &c.id, &c.source, &c.metaJSON); err != nil {
		return false, err
	}
	var err error
	if c.meta, err = c.schema.values(c.metaJSON, c.meta); err != nil {
		return false, fmt.Errorf("conversation %s: metadata: %w", c.id, err)
	}
	c.id, c.source, c.valid = validUTF8(c.id), validUTF8(c.source), true
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
func writeErrors(ctx context.Context, tx *sql.Tx, f *tempFile) (stageErrs, bad int64, err error) {
	cw := newCSVWriter(f.f)
	if err := cw.Write(errorColumns); err != nil {
		return 0, 0, err
	}
	rec := make([]string, len(errorColumns))

	rows, err := tx.QueryContext(ctx, `
		SELECT c.id, c.source, r.stage, r.error
		FROM results r
		JOIN conversations c ON c.seq = r.seq
		JOIN stages s ON s.name = r.stage
		WHERE r.status = 'error'
		ORDER BY r.seq, s.position`)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var id, src, stage, msg string
		if err := rows.Scan(&id, &src, &stage, &msg); err != nil {
			rows.Close()
			return stageErrs, bad, err
		}
		rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] = "stage", validUTF8(id), validUTF8(src), validUTF8(stage), "", "", validUTF8(msg)
		if err := cw.Write(rec); err != nil {
			rows.Close()
			return stageErrs, bad, err
		}
		stageErrs++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return stageErrs, bad, err
	}

	rows, err = tx.QueryContext(ctx, `SELECT file, record, line, reason FROM bad_records ORDER BY file, record`)
	if err != nil {
		return stageErrs, bad, err
	}
	defer rows.Close()
	for rows.Next() {
		var file, reason string
		var record, line int64
		if err := rows.Scan(&file, &record, &line, &reason); err != nil {
			return stageErrs, bad, err
		}
		rec[0], rec[1], rec[2], rec[3] = "bad_record", "", validUTF8(file), ""
		rec[4], rec[5], rec[6] = strconv.FormatInt(line, 10), strconv.FormatInt(record, 10), validUTF8(reason)
		if err := cw.Write(rec); err != nil {
			return stageErrs, bad, err
		}
		bad++
	}
	if err := rows.Err(); err != nil {
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
