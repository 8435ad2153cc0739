// Package share writes the part of a run folder that may be published: the
// report and the analysis tables as they are (runfolder.Shareable), the
// taxonomy trees floored (runfolder.FlooredOnExport: taxonomy.Tree.Floored
// withholds the values under the run's privacy floor, the cluster names and
// descriptions that name one, and recomputes the shares over the values
// shown), and a README saying which floor was applied.
package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/privacy"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

// Summary is what Export wrote.
type Summary struct {
	Floor privacy.Floor `json:"floor"`
	// UsersKnown: the data names users, so the users bound applied.
	UsersKnown bool `json:"users_known"`
	// Files written into the folder, relative and slash-separated (the
	// README last).
	Files []string `json:"files"`
	// Withheld counts the tree rows left out, per tree file.
	Withheld map[string]int `json:"withheld_tree_rows"`
	// Skipped are shareable files not written, with why.
	Skipped map[string]string `json:"skipped,omitempty"`
}

// ReadmeFile is the README Export writes.
const ReadmeFile = "README.md"

// Export writes the shareable files of run folder dir into out, which
// must not exist or be empty, and not lie inside the run folder.
func Export(ctx context.Context, dir, out string) (*Summary, error) {
	f, err := runfolder.Existing(dir)
	if err != nil {
		return nil, err
	}
	if err := checkOut(dir, out); err != nil {
		return nil, err
	}
	set, err := analysis.ReadRunSettings(dir)
	if err != nil {
		return nil, err
	}
	run, err := analysis.OpenRun(ctx, dir, analysis.LoadOptions{UserKeys: set.UserKeys})
	if err != nil {
		return nil, err
	}
	s := &Summary{Floor: set.Floor(), UsersKnown: run.UserKey != "", Withheld: map[string]int{}, Skipped: map[string]string{}}
	files, err := f.ShareableFiles()
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, rel := range files {
		src, dst := filepath.Join(dir, filepath.FromSlash(rel)), filepath.Join(out, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if runfolder.FlooredOnExport(rel) {
			field := strings.TrimSuffix(path.Base(rel), ".tree.csv")
			n, why, err := writeTree(ctx, src, dst, run, field, s.Floor)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			if why != "" {
				s.Skipped[rel] = why
				continue
			}
			s.Withheld[rel] = n
		} else if err := copyFile(src, dst); err != nil {
			return nil, err
		}
		s.Files = append(s.Files, rel)
	}
	if err := atomicfile.WriteBytes(filepath.Join(out, ReadmeFile), s.readme(dir)); err != nil {
		return nil, err
	}
	s.Files = append(s.Files, ReadmeFile)
	return s, nil
}

// checkOut refuses an out folder that has files, or lies inside the run.
func checkOut(dir, out string) error {
	absDir, err1 := filepath.Abs(dir)
	absOut, err2 := filepath.Abs(out)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if rel, err := filepath.Rel(absDir, absOut); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("export folder %s is inside the run folder %s", out, dir)
	}
	ents, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(out, 0o755)
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("export folder %s is not empty", out)
	}
	return nil
}

// writeTree writes a tree file without the level-0 rows whose values rest
// on fewer conversations or users than the floor, returning how many were
// withheld, or why the file is not written (its field is not in the run,
// so the floor cannot be checked).
func writeTree(ctx context.Context, src, dst string, run *analysis.Run, field string, floor privacy.Floor) (int, string, error) {
	if _, err := run.Field(field); err != nil {
		return 0, fmt.Sprintf("the run has no field %q to check its values against the floor", field), nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return 0, "", err
	}
	tree, err := taxonomy.ReadCSV(bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	// The same count of each value as the floor of cluster names uses:
	// distinct conversations and, where the data names users, users.
	pass, err := taxonomy.NamePass(ctx, run, field, floor)
	if err != nil {
		return 0, "", err
	}
	out, withheld, err := floorTree(tree, pass)
	if err != nil {
		return 0, "", err
	}
	if out == nil {
		return 0, "every value of the tree is under the floor", nil
	}
	return withheld, "", atomicfile.Write(dst, out.WriteCSV)
}

// WithheldName replaces a cluster's name that is a value under the floor.
const WithheldName = "(name withheld)"

// floorTree is taxonomy.Tree.Floored with WithheldName.
func floorTree(tree *taxonomy.Tree, pass func(key string) bool) (*taxonomy.Tree, int, error) {
	out, withheld, err := tree.Floored(pass, WithheldName)
	if out == nil {
		withheld = 0
	}
	return out, withheld, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

func (s *Summary) readme(dir string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Shareable outputs of the valuescope run %s\n\n", filepath.Base(dir))
	users := "the data names no users, so no users bound applied"
	if s.UsersKnown {
		users = fmt.Sprintf("and on at least %d distinct users", s.Floor.MinUsers)
	}
	fmt.Fprintf(&b, "Privacy floor: nothing here rests on fewer than %d distinct conversations (%s).\n\n", s.Floor.MinConversations, users)
	b.WriteString("- Tables (analysis/, the report's heatmaps): cells under the floor are blank, and so are complementary\n" +
		"  cells chosen so that no blank count follows from the published cells and row and column totals\n" +
		"  (linked cell suppression: Cox 1980; Hundepool et al., Statistical Disclosure Control, Wiley 2012, ch. 4).\n" +
		"  Zero cells are blank too, so a blank does not mark a small count.\n" +
		"- Taxonomy trees (taxonomy/): values under the floor are withheld, and so are the cluster names and\n" +
		"  descriptions that name one and the clusters left without a value. Percentages are of the occurrences\n" +
		"  of the values shown (each cluster's is the sum of its values'), so they differ from the run's own\n" +
		"  tree, and a cluster's share does not tell what its withheld values hold.\n\n")
	b.WriteString("Files:\n\n")
	for _, f := range s.Files {
		fmt.Fprintf(&b, "- %s", f)
		if n := s.Withheld[f]; n > 0 {
			fmt.Fprintf(&b, " (%d values under the floor withheld)", n)
		}
		b.WriteByte('\n')
	}
	for f, why := range s.Skipped {
		fmt.Fprintf(&b, "\nNot exported: %s: %s\n", f, why)
	}
	b.WriteString("\nThe run's store, annotations, conversations, errors, logs, review sheets, configs and manifest are private and not here.\n")
	return b.Bytes()
}
