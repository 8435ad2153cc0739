package run

import (
	"context"
	"fmt"
	"slices"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/host/runfolder"
)

// selectionPaths are the dataset paths as a run's selection keys them: an
// hf:// path without its revision (hub.Ref.Selection), since which commit
// was read is the files' identity, checked apart. A run begun on a branch
// is so the same selection as the branch's commit pinned.
func selectionPaths(paths []string) []string {
	out := slices.Clone(paths)
	for i, p := range out {
		if ref, err := hub.Parse(p); err == nil {
			out[i] = ref.Selection()
		}
	}
	return out
}

// recorded is the snapshot prev's run read for the dataset ref selects
// (the same repository and pattern, at whichever revision), or nil.
func recorded(prev *runfolder.Manifest, ref hub.Ref) *hub.Snapshot {
	if prev == nil {
		return nil
	}
	for _, s := range prev.Dataset.Hub {
		if was, err := hub.Parse(s.URL); err == nil && was.Selection() == ref.Selection() {
			return s
		}
	}
	return nil
}

// checkHubCommits refuses to go on with a run over an hf:// path whose
// revision is now another commit than the one the run in dir began on,
// asking the Hub for the commit only (nothing is downloaded). For a branch
// that moved, it names the pinned path that finishes the run.
func checkHubCommits(ctx context.Context, hc *hub.Client, dir string, prev *runfolder.Manifest, paths []string) error {
	for _, p := range paths {
		ref, err := hub.Parse(p)
		if err != nil {
			continue // not an hf:// path; a malformed one fails in Resolve
		}
		was := recorded(prev, ref)
		if was == nil {
			continue
		}
		commit := ref.Revision
		if !ref.Pinned() {
			s, err := hc.List(ctx, ref, dataset.IsDataFile)
			if err != nil {
				return err
			}
			commit = s.Commit
		}
		if commit == was.Commit {
			continue
		}
		msg := fmt.Sprintf("the dataset changed since the run in %s began: it read %s at commit %s, and %s is commit %s", dir, was.Repo, was.Commit, p, commit)
		if !ref.Pinned() {
			msg += fmt.Sprintf("\nrevision %q names another commit now (a branch moves): to finish the run over the files it began on, run over %s (the same selection, pinned)", ref.Revision, ref.At(was.Commit))
		}
		return fmt.Errorf("%s\nto run over commit %s use a new run folder (--out), or start this one over (--fresh)", msg, commit)
	}
	return nil
}
