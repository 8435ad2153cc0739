package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

// FolderOptions are a comparison of run folders as a command line asks for
// it: every option given (no zero defaults, but for Correction, Mapper and
// Fields), checked by Folders.
type FolderOptions struct {
	Options
	// UserKeys are the metadata keys naming a conversation's user (nil:
	// analysis.DefaultUserKeys).
	UserKeys []string
	// Out, when not "", is the folder Folders writes compare.json,
	// differences.csv, fields.csv and disagreements.csv into.
	Out string
}

// check reports options out of range as an *analysis.OptionsError.
func (o *FolderOptions) check() error {
	c, err := analysis.ParseCorrection(string(o.Correction))
	if err != nil {
		return &analysis.OptionsError{Err: err}
	}
	o.Correction = c
	if o.Alpha <= 0 || o.Alpha >= 1 || o.Level <= 0 || o.Level >= 1 {
		return &analysis.OptionsError{Err: fmt.Errorf("--alpha and --level are between 0 and 1")}
	}
	if o.Tests < 0 || o.Floor.MinConversations < 0 || o.Floor.MinUsers < 0 {
		return &analysis.OptionsError{Err: fmt.Errorf("--tests, --min-conversations and --min-users take positive numbers")}
	}
	if o.TopN <= 0 {
		return &analysis.OptionsError{Err: fmt.Errorf("--top-n takes a positive number")}
	}
	return nil
}

// Folders checks o, compares run folders dirs (each with the first) and,
// if o.Out is set, writes the report's files there.
func Folders(ctx context.Context, dirs []string, o FolderOptions) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if _, err := runfolder.Existing(d); err != nil {
			return nil, err
		}
	}
	rep, err := Runs(ctx, dirs, analysis.LoadOptions{UserKeys: o.UserKeys}, o.Options)
	if err != nil {
		return nil, err
	}
	// A mapper that can fail (placing values by embedding) keeps its
	// first error: no files from a comparison it could not finish.
	if m, ok := o.Mapper.(interface{ Err() error }); ok && m.Err() != nil {
		return nil, m.Err()
	}
	if o.Out != "" {
		if err := WriteFiles(o.Out, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// WriteFiles writes compare.json (the report's Aggregate), differences.csv
// (per value), fields.csv (per field: the tests used, on how many
// conversations) and disagreements.csv (private: ShareableFiles) into folder
// out, creating it.
func WriteFiles(out string, rep *Report) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"compare.json": func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep.Aggregate())
		},
		"differences.csv":   func(w io.Writer) error { return WriteDiffsCSV(w, rep) },
		"fields.csv":        func(w io.Writer) error { return WriteFieldsCSV(w, rep) },
		"disagreements.csv": func(w io.Writer) error { return WriteAgreementCSV(w, rep) },
	} {
		if err := atomicfile.Write(filepath.Join(out, name), write); err != nil {
			return err
		}
	}
	return nil
}
