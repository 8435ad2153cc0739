package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// CheckName reports why an item name is not a short normalised name, or ""
// when it is one: protocol.CheckItemName, the rule the host applies in runs
// too.
func CheckName(name string) string { return errText(protocol.CheckItemName(name)) }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkOutput checks one conversation's annotations: the host's own check
// (hostErr, from plugin.CheckResponse or CheckAnnotations: declared fields,
// labels from the label set, item names by the one rule, attributes within
// the limits and valid UTF-8), then the kit's: a classifier gives one label
// per field; a namer answers one item (plugin.ClusterName).
func checkOutput(m protocol.Manifest, anns []protocol.Annotation, hostErr error) string {
	if hostErr != nil {
		return violationText(hostErr)
	}
	spec, err := plugin.LookupKind(m.Kind)
	if err != nil {
		return err.Error() // not reached: the manifest passed the load
	}
	if err := spec.CheckAnswer(m, anns); err != nil {
		return violationText(err)
	}
	if spec.Output == plugin.OutputLabels {
		seen := map[string]bool{}
		for i, a := range anns {
			field := a.Field
			if field == "" {
				field = m.Field
			}
			if seen[field] {
				return fmt.Sprintf("annotation %d: a second label for the field %q: a classifier picks one label", i, field)
			}
			seen[field] = true
		}
	}
	return ""
}

// checkManifest is the host's check (plugin.CheckManifest) and a few more:
// a version, labels and fields without repeats, labels normalised like names.
func checkManifest(m protocol.Manifest) []string {
	var problems []string
	if err := plugin.CheckManifest(m); err != nil {
		_, msg, _ := strings.Cut(err.Error(), "invalid manifest: ")
		problems = append(problems, strings.Split(msg, "; ")...)
	}
	if m.Version == "" {
		problems = append(problems, "manifest has no version: state one, so that a run records which build of the plugin made its annotations")
	}
	if d := dup(m.Labels); d != "" {
		problems = append(problems, fmt.Sprintf("label %q is listed twice", d))
	}
	for _, l := range m.Labels {
		if l == "" || strings.TrimSpace(l) != l || !utf8.ValidString(l) {
			problems = append(problems, fmt.Sprintf("label %s: want a non-empty label without surrounding space, in valid UTF-8", quote(l)))
		}
	}
	if d := dup(append([]string{m.Field}, m.Fields...)); d != "" {
		problems = append(problems, fmt.Sprintf("field %q is listed twice", d))
	}
	for _, f := range append([]string{m.Field}, m.Fields...) {
		if f != "" && !isIdent(f) {
			problems = append(problems, fmt.Sprintf("field %q: want a lower-case identifier such as ai_values", f))
		}
	}
	if d := dup(m.Needs); d != "" {
		problems = append(problems, fmt.Sprintf("needs %q is listed twice", d))
	}
	return problems
}

func dup(ss []string) string {
	seen := map[string]bool{}
	for _, s := range ss {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(i int) string { return strconv.Itoa(i) }
