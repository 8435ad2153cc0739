package analysis

import "github.com/valuescope/valuescope/host/valuename"

// Mapper places value names on one level of a taxonomy: it is where a
// taxonomy (host/taxonomy: clusters, or the paper's tree) plugs into the
// analysis and the comparison of runs. Both runs of a comparison go through
// the same Mapper, so their values are counted on one shared set of nodes.
type Mapper interface {
	// Node returns the node of a value of field at the mapper's level, and
	// false when the value has no place (it is then left out, and counted).
	Node(field, value string) (node string, ok bool)
}

// Normalized is the default Mapper, level 0 of every taxonomy: the value's
// normalised name, valuename.Key. Empty names have no node.
type Normalized struct{}

// Node returns valuename.Key(value).
func (Normalized) Node(_, value string) (string, bool) {
	n := valuename.Key(value)
	return n, n != ""
}

// MapperFunc adapts a function to a Mapper.
type MapperFunc func(field, value string) (string, bool)

// Node calls f.
func (f MapperFunc) Node(field, value string) (string, bool) { return f(field, value) }
