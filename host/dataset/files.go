package dataset

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// input is one file of a dataset: where it is and the name conversations from
// it carry as their Source.
type input struct {
	path   string
	source string
}

// dataExtensions are the file endings taken from a folder. Files given by
// name or glob are read whatever their ending.
var dataExtensions = []string{".jsonl", ".ndjson", ".json", ".parquet"}

// IsDataFile says whether a file name has a data file's ending, as a folder
// is read: what an hf:// dataset path without a file pattern takes.
func IsDataFile(name string) bool { return isDataFile(name) }

func isDataFile(name string) bool {
	name = strings.ToLower(name)
	for _, c := range []string{".gz", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, c)
	}
	return slices.Contains(dataExtensions, filepath.Ext(name))
}

// expand turns the user's paths (files, folders, globs) into files, in a
// stable order: folders are walked in lexical order, globs sorted. A path that
// matches nothing is an error, not an empty dataset.
func expand(paths []string) ([]input, error) {
	var out []input
	for _, p := range paths {
		if strings.ContainsAny(p, "*?[") {
			matches, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("dataset path %q: %w", p, err)
			}
			var files []string
			for _, m := range matches {
				if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
					files = append(files, m)
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("dataset path %q matches no file", p)
			}
			slices.Sort(files)
			base := globBase(p)
			for _, f := range files {
				out = append(out, input{path: f, source: relOrBase(base, f)})
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("dataset path: %w", err)
		}
		if !st.IsDir() {
			out = append(out, input{path: p, source: filepath.Base(p)})
			continue
		}
		n := len(out)
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && isDataFile(d.Name()) {
				out = append(out, input{path: f, source: relOrBase(p, f)})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset folder %s: %w", p, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("dataset folder %s holds no data file (%s, optionally .gz or .zst)", p, strings.Join(dataExtensions, ", "))
		}
	}
	return out, nil
}

// globBase is the folder part of a glob before its first wildcard.
func globBase(glob string) string {
	i := strings.IndexAny(glob, "*?[")
	return filepath.Dir(glob[:i] + "x")
}

func relOrBase(base, f string) string {
	if r, err := filepath.Rel(base, f); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.Base(f)
}
