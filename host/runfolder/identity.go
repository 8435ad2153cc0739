package runfolder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// FileID is a dataset file's identity: what must be the same for a resumed
// run to read the conversations the first invocation read.
type FileID struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Identify hashes each file.
func Identify(paths []string) ([]FileID, error) {
	out := make([]FileID, 0, len(paths))
	for _, p := range paths {
		id, err := identify(p)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func identify(path string) (FileID, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileID{}, fmt.Errorf("hashing dataset file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileID{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return FileID{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// DatasetChangedError refuses to resume a run over a dataset that is not the
// one it began on: its results would mix conversations from both.
type DatasetChangedError struct {
	Dir     string
	Changes []string
}

func (e *DatasetChangedError) Error() string {
	return fmt.Sprintf("the dataset changed since the run in %s began:\n  %s\nto run over the new data use a new run folder (--out), or start this one over (--fresh); to finish the old run, put the old files back",
		e.Dir, strings.Join(e.Changes, "\n  "))
}

// CheckDataset compares the dataset files now (cur) with those the run
// began on (was), by path, size and hash, and says every difference.
func (f Folder) CheckDataset(was, cur []FileID) error {
	old := map[string]FileID{}
	for _, id := range was {
		old[id.Path] = id
	}
	var changes []string
	seen := map[string]bool{}
	for _, id := range cur {
		seen[id.Path] = true
		o, ok := old[id.Path]
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("%s is new (%d bytes)", id.Path, id.Size))
		case o.Size != id.Size:
			changes = append(changes, fmt.Sprintf("%s: %d bytes, was %d", id.Path, id.Size, o.Size))
		case o.SHA256 != id.SHA256:
			changes = append(changes, fmt.Sprintf("%s: same size, other content (sha256 %.12s, was %.12s)", id.Path, id.SHA256, o.SHA256))
		}
	}
	for _, id := range was {
		if !seen[id.Path] {
			changes = append(changes, fmt.Sprintf("%s is gone", id.Path))
		}
	}
	if len(changes) > 0 {
		return &DatasetChangedError{Dir: string(f), Changes: changes}
	}
	return nil
}

// EncodeFileIDs and DecodeFileIDs keep a dataset's identity in the store's
// metadata.
func EncodeFileIDs(ids []FileID) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// DecodeFileIDs reverses EncodeFileIDs.
func DecodeFileIDs(s string) ([]FileID, error) {
	var ids []FileID
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("the run's recorded dataset: %w", err)
	}
	return ids, nil
}
