package plugin

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// Input is what a kind of plugin is given to process.
type Input int

const (
	// InputConversations: the run's conversations, one a request.
	InputConversations Input = iota + 1
	// InputClusters: taxonomy clusters, one a request, each sent as a conversation
	// (sdk/ABI.md, "Namer plugins"); the conformance kit drives such a
	// plugin with clusters (conformance.Clusters) as well as conversations.
	InputClusters
)

// Output is what a kind of plugin answers.
type Output int

const (
	// OutputItems: annotations of items (values, keywords...), with or without a
	// label.
	OutputItems Output = iota + 1
	// OutputLabels: one label from the manifest's label set per field.
	OutputLabels
	// OutputClusterName: one annotation of protocol.FieldClusterName with one item,
	// the cluster's name (ClusterName reads it).
	OutputClusterName
)

// KindSpec is one kind of plugin: what its manifest must declare, what it is
// given and answers, how its answers are checked, and whether a run may use
// it as a stage. Kinds lists them all; adding a kind is adding an entry there
// (and what is particular to it).
type KindSpec struct {
	// Kind is the manifest's kind (protocol.Extractor...).
	Kind string
	// Input is what it processes; Output what it answers.
	Input  Input
	Output Output
	// Stage: a run config may use it as a stage. NotStage says why not,
	// and where it is used instead.
	Stage    bool
	NotStage string
	// DisplayNames: its item names are shown as written (a cluster's name,
	// "Intellectual clarity") rather than normalised, lower-case value names.
	DisplayNames bool
	// OutputCheck says what the conformance kit checks of its answers
	// beyond the declared fields.
	OutputCheck string

	// manifest reports what the manifest lacks for this kind.
	manifest func(m protocol.Manifest) []string
	// answer checks one whole answer beyond CheckAnnotations (nil: nothing).
	answer func(m protocol.Manifest, anns []protocol.Annotation) error
}

// kinds is the table (sdk/protocol holds the names).
var kinds = []KindSpec{
	{
		Kind: protocol.Extractor, Input: InputConversations, Output: OutputItems, Stage: true,
		OutputCheck: "item names normalised",
	},
	{
		Kind: protocol.Classifier, Input: InputConversations, Output: OutputLabels, Stage: true,
		OutputCheck: "labels from the declared set",
		manifest: func(m protocol.Manifest) []string {
			if len(m.Labels) == 0 {
				return []string{"a classifier must declare its labels"}
			}
			return nil
		},
	},
	{
		Kind: protocol.Namer, Input: InputClusters, Output: OutputClusterName, DisplayNames: true,
		NotStage:    "it names taxonomy clusters (valuescope taxonomy build --name-plugin), not conversations",
		OutputCheck: "one cluster name per cluster",
		manifest: func(m protocol.Manifest) []string {
			if m.Field != protocol.FieldClusterName || len(m.Fields) > 0 {
				return []string{fmt.Sprintf("a namer writes the field %q only", protocol.FieldClusterName)}
			}
			return nil
		},
		answer: func(m protocol.Manifest, anns []protocol.Annotation) error {
			_, _, err := ClusterName(m, anns)
			return err
		},
	},
}

// Kinds is every kind of plugin the host knows, in the order messages list
// them.
func Kinds() []KindSpec { return append([]KindSpec(nil), kinds...) }

// LookupKind is the spec of a kind; an unknown kind is an error saying
// which kinds there are.
func LookupKind(kind string) (*KindSpec, error) {
	for i := range kinds {
		if kinds[i].Kind == kind {
			return &kinds[i], nil
		}
	}
	return nil, &UnknownKindError{Kind: kind}
}

// UnknownKindError is a manifest's kind that is none of Kinds.
type UnknownKindError struct{ Kind string }

func (e *UnknownKindError) Error() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = strconv.Quote(k.Kind)
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	return fmt.Sprintf("kind %s: want %s", protocol.Quote(e.Kind, 60), want)
}

// CheckManifest reports what m lacks for this kind ("a classifier must
// declare its labels"); plugin.CheckManifest includes it.
func (s *KindSpec) CheckManifest(m protocol.Manifest) []string {
	if s.manifest == nil {
		return nil
	}
	return s.manifest(m)
}

// CheckAnswer checks one whole answer of a plugin of this kind beyond
// CheckAnnotations (for a namer: one cluster name, as ClusterName reads it).
// The error is a *PluginError.
func (s *KindSpec) CheckAnswer(m protocol.Manifest, anns []protocol.Annotation) error {
	if s.answer == nil {
		return nil
	}
	return s.answer(m, anns)
}

// StageError says why a run may not use a plugin with manifest m as a
// stage ("is a namer: it names taxonomy clusters ..."), or is nil. A kind
// that is not in Kinds is left to CheckManifest, which Load runs.
func StageError(m protocol.Manifest) error {
	s, err := LookupKind(m.Kind)
	if err != nil || s.Stage {
		return nil
	}
	return fmt.Errorf("is a %s: %s", s.Kind, s.NotStage)
}
