package runfolder

import (
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Shareable reports whether a run file (rel: its path relative to the run
// folder, slash-separated) may be published as it is: it holds only results
// that respect the privacy floor — the report (report.json, report.html) and
// the analysis tables (analysis/NAME.cells.csv, NAME.residuals.csv,
// NAME.json, and the same in a tree level's folder analysis/TREE.levelN/).
// The taxonomy trees (taxonomy/FIELD.tree.csv) are not: they list every
// value the run saw, with its share, and a run's analysis needs them whole;
// they are published floored (FlooredOnExport). Everything else is private:
// the store, the exports of annotations and conversations, errors.csv,
// plugins.log, review sheets, a tree level's taxonomy.json and
// assignments.csv (every value placed, with raw counts), the configs and the
// manifest (dataset paths, prompts), and any file this list does not name.
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
	}
	return false
}

// FlooredOnExport reports whether a run file is private as it stands but
// published once the privacy floor is applied to it: a taxonomy tree, whose
// values under the floor `export --shareable` withholds (host/share).
func FlooredOnExport(rel string) bool {
	dir, name := path.Split(path.Clean(filepath.ToSlash(rel)))
	base, ok := strings.CutSuffix(name, ".tree.csv")
	return dir == TreeDir+"/" && ok && base != ""
}

// ShareableFiles lists the files of the run folder an export publishes:
// the Shareable ones and the FlooredOnExport ones, relative and
// slash-separated, sorted.
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
		if rel = filepath.ToSlash(rel); Shareable(rel) || FlooredOnExport(rel) {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
