package runfolder

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Withheld stands in a public manifest for what the private one holds.
const Withheld = "(withheld: private)"

// Public is the manifest as a shareable file may hold it (the report embeds
// it): what ran and how — valuescope's build, plugins and their digests,
// models, prompts' and configs' hashes, counts, times — without what the
// private list (Shareable) keeps out of publication: the folders and dataset
// files by their paths (only their base names are kept), each stage's
// configuration (a plugin's configuration holds its prompt's text), and the
// error texts of invocations (they quote files and conversations). Plugin
// refs and prompt files keep their base names, beside their digests.
func (m *Manifest) Public() *Manifest {
	p := *m
	p.Run.Dir = base(m.Run.Dir)
	d := m.Dataset
	d.Paths = make([]string, len(m.Dataset.Paths))
	for i, s := range m.Dataset.Paths {
		d.Paths[i] = base(s)
	}
	d.Files = slices.Clone(m.Dataset.Files)
	for i := range d.Files {
		d.Files[i].Path = base(d.Files[i].Path)
	}
	d.Hub = nil
	for _, s := range m.Dataset.Hub {
		c := *s
		c.Files = slices.Clone(s.Files)
		for i := range c.Files {
			c.Files[i].Local = ""
		}
		d.Hub = append(d.Hub, &c)
	}
	p.Dataset = d
	p.Stages = slices.Clone(m.Stages)
	for i := range p.Stages {
		if p.Stages[i].ConfigJSON != "" {
			p.Stages[i].ConfigJSON = Withheld
		}
		p.Stages[i].PromptFile = base(p.Stages[i].PromptFile)
		if scheme, rest, ok := strings.Cut(p.Stages[i].Plugin.Ref, ":"); ok && !strings.Contains(scheme, "/") {
			p.Stages[i].Plugin.Ref = scheme + ":" + base(rest) // builtin:NAME, grpc:PATH
		} else {
			p.Stages[i].Plugin.Ref = base(p.Stages[i].Plugin.Ref)
		}
	}
	p.Invocations = slices.Clone(m.Invocations)
	for i := range p.Invocations {
		if p.Invocations[i].Error != "" {
			p.Invocations[i].Error = Withheld
		}
	}
	if m.Merged != nil {
		mi := *m.Merged
		mi.From = slices.Clone(m.Merged.From)
		for i := range mi.From {
			mi.From[i].Dir = base(mi.From[i].Dir)
		}
		p.Merged = &mi
	}
	return &p
}

// base is a path's last element ("" stays ""; an hf:// path stays whole:
// it names a public dataset, not a place on this machine).
func base(p string) string {
	if p == "" || strings.HasPrefix(p, "hf://") {
		return p
	}
	return path.Base(filepath.ToSlash(p))
}
