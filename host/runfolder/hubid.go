package runfolder

import "github.com/valuescope/valuescope/host/hub"

// NameHubFiles gives each of ids that is a cached file of one of snaps its
// name on the Hub (hub.Snapshot.Name: repository, commit, path) in place of
// the cache's path: a file of a Hub dataset is the same file whichever
// HF_HUB_CACHE holds it, so a run resumed, or a shard merged, with another
// cache is over the same dataset. Its size and SHA-256 stay checked.
func NameHubFiles(ids []FileID, snaps []*hub.Snapshot) []FileID {
	names := map[string]string{}
	for _, s := range snaps {
		for _, f := range s.Files {
			if f.Local != "" {
				names[f.Local] = s.Name(f)
			}
		}
	}
	out := make([]FileID, len(ids))
	for i, id := range ids {
		if n, ok := names[id.Path]; ok {
			id.Path = n
		}
		out[i] = id
	}
	return out
}
