// Package synthrun makes synthetic runs for memory and speed benchmarks at
// sizes no public dataset here has: a dataset of conversations whose
// assistant turns list values drawn from a Zipf law, with contexts and users
// as metadata, run through the real pipeline (`valuescope run` with the
// listvalues Wasm extractor in testdata) so that the store is a real one.
// Runs are kept in a cache folder named by their parameters, so that a
// benchmark builds its million-conversation run once.
package synthrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Params are a synthetic run's shape.
type Params struct {
	// Conversations in the dataset.
	Conversations int
	// Values is the number of distinct values (the paper's 3,307) drawn
	// with a Zipf law of exponent ZipfS.
	Values int
	ZipfS  float64
	// MaxPerConv: each conversation lists 1..MaxPerConv draws (repeats kept,
	// as a plugin may answer them).
	MaxPerConv int
	// Contexts: distinct values of the metadata key "task" (Zipf too);
	// "language" takes one of 5.
	Contexts int
	// Users: distinct values of "user_id" (Zipf); NoUserShare of the
	// conversations have none.
	Users       int
	NoUserShare float64
	Seed        uint64
}

// Default is the shape of the benchmarks: the paper's number of values and
// 50 contexts, one user for every 5 conversations.
func Default(conversations int) Params {
	return Params{Conversations: conversations, Values: 3307, ZipfS: 1.1, MaxPerConv: 5,
		Contexts: 50, Users: max(1, conversations/5), NoUserShare: 0.05, Seed: 1}
}

// Key names the parameters in a cache folder.
func (p Params) Key() string {
	return fmt.Sprintf("n%d-v%d-s%g-k%d-c%d-u%d-nu%g-seed%d", p.Conversations, p.Values, p.ZipfS, p.MaxPerConv, p.Contexts, p.Users, p.NoUserShare, p.Seed)
}

func (p Params) check() error {
	switch {
	case p.Conversations < 1, p.Values < 1, p.MaxPerConv < 1, p.Contexts < 1, p.Users < 1:
		return fmt.Errorf("synthetic run %s: conversations, values, max per conversation, contexts and users must be at least 1", p.Key())
	case p.ZipfS <= 1:
		return fmt.Errorf("synthetic run %s: the Zipf exponent must be over 1 (got %g)", p.Key(), p.ZipfS)
	case p.NoUserShare < 0 || p.NoUserShare > 1:
		return fmt.Errorf("synthetic run %s: the share without user must be in [0, 1] (got %g)", p.Key(), p.NoUserShare)
	}
	return nil
}

var languages = []string{"English", "Spanish", "French", "German", "Chinese"}

// record is one line of the dataset, in valuescope's own JSONL format.
type record struct {
	ID    string    `json:"id"`
	Turns []message `json:"turns"`
	Meta  meta      `json:"meta"`
}

type meta struct {
	Task     string `json:"task"`
	Language string `json:"language"`
	UserID   string `json:"user_id,omitempty"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ValueName is the name of the k-th value (0-based), as the run stores it.
func ValueName(k uint64) string { return fmt.Sprintf("value %04d", k) }

// WriteDataset writes the dataset of p as JSONL: the same parameters give
// the same bytes.
func WriteDataset(w io.Writer, p Params) error {
	if err := p.check(); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	vals := rand.NewZipf(r, p.ZipfS, 1, uint64(p.Values-1))
	ctxs := rand.NewZipf(r, 1.2, 1, uint64(p.Contexts-1))
	users := rand.NewZipf(r, 1.05, 10, uint64(p.Users-1))
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	var sb strings.Builder
	for i := range p.Conversations {
		sb.Reset()
		sb.WriteString("Here is my answer.")
		for range 1 + r.IntN(p.MaxPerConv) {
			sb.WriteString("\nvalue: ")
			sb.WriteString(ValueName(vals.Uint64()))
		}
		rec := record{ID: fmt.Sprintf("c%08d", i),
			Turns: []message{{"user", fmt.Sprintf("Question %d?", i)}, {"assistant", sb.String()}},
			Meta:  meta{Task: fmt.Sprintf("task %02d", ctxs.Uint64()), Language: languages[r.IntN(len(languages))]}}
		if r.Float64() >= p.NoUserShare {
			rec.Meta.UserID = fmt.Sprintf("u%07d", users.Uint64())
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Config is the TOML of a run of dataset with the listvalues plugin at
// plugin, into out.
func Config(dataset, plugin, out string, workers int) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`[run]
name = "synthetic"
out = %s
workers = %d

[dataset]
paths = [%s]
format = "valuescope"

[[stages]]
name = "values"
plugin = %s
`, q(out), workers, q(dataset), q(plugin))
}

// WriteInputs writes the dataset and config of p into dir (made if needed)
// and returns the config's path; the run folder is dir/run.
func WriteInputs(dir string, p Params, plugin string, workers int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ds := filepath.Join(dir, "conversations.jsonl")
	f, err := os.Create(ds)
	if err != nil {
		return "", err
	}
	if err := WriteDataset(f, p); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %s: %w", ds, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, "run.toml")
	if err := os.WriteFile(cfg, []byte(Config(ds, plugin, filepath.Join(dir, "run"), workers)), 0o644); err != nil {
		return "", err
	}
	return cfg, nil
}
