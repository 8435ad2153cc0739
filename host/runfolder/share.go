package runfolder

import (
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Shareable reports whether a run file (rel: its path relative to the run
// folder, slash-separated) may be published: it holds only results that
// respect the privacy floor — the report (report.json, report.html), the
// analysis tables (analysis/NAME.cells.csv, NAME.residuals.csv, NAME.json,
// and the same in a tree level's folder analysis/TREE.levelN/) and the
// taxonomy trees (taxonomy/FIELD.tree.csv, whose level-0 rows under the
// floor an export withholds). Everything else is private: the store, the
// exports of annotations and conversations, errors.csv, plugins.log, review
// sheets, a tree level's taxonomy.json and assignments.csv (every value
// placed, with raw counts), the configs and the manifest (dataset paths,
// prompts), and any file this list does not name.
func Shareable(rel string) bool {
	rel = path.Clean(filepath.ToSlash(rel))
	dir, name := path.Split(rel)
	if sub, ok := strings.CutPrefix(dir, AnalysisDir+"/"); ok && sub != "" && !strings.Contains(strings.TrimSuffix(sub, "/"), "/") {
		dir = AnalysisDir + "/" // a tree level's tables
	}
	switch dir {
	case "":
		return name == "report.json" || name == "report.html"
	case AnalysisDir + "/":
		if name == "taxonomy.json" {
			return false
		}
		for _, suffix := range []string{".cells.csv", ".residuals.csv", ".json"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && base != "" {
				return true
			}
		}
	case TreeDir + "/":
		base, ok := strings.CutSuffix(name, ".tree.csv")
		return ok && base != ""
	}
	return false
}

// ShareableFiles lists the shareable files present in the run folder,
// relative and slash-separated, sorted.
func (f Folder) ShareableFiles() ([]string, error) {
	var out []string
	err := filepath.WalkDir(string(f), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(string(f), p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); Shareable(rel) {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
