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

// checkDisplayName is CheckName but for upper case, which a namer's cluster
// names may have ("Intellectual clarity"): protocol.CheckDisplayName.
func checkDisplayName(name string) string { return errText(protocol.CheckDisplayName(name)) }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkOutput checks one conversation's annotations: the host's own checks
// (plugin.CheckAnnotations: declared fields, labels from the label set, item
// names of 1 to 100 bytes), then the kit's: a classifier gives one label per
// field, item names are normalised, labels and attributes are valid UTF-8; a
// namer answers one item (plugin.ClusterName), whose name may have upper
// case.
func checkOutput(m protocol.Manifest, anns []protocol.Annotation) string {
	if err := plugin.CheckAnnotations(m, anns); err != nil {
		msg := err.Error()
		if pe, ok := err.(*plugin.PluginError); ok {
			msg = pe.Msg
		}
		return msg
	}
	spec, err := plugin.LookupKind(m.Kind)
	if err != nil {
		return err.Error() // not reached: CheckAnnotations' manifest passed the load
	}
	if err := spec.CheckAnswer(m, anns); err != nil {
		return err.(*plugin.PluginError).Msg
	}
	check := CheckName
	if spec.DisplayNames {
		check = checkDisplayName
	}
	seen := map[string]bool{}
	for i, a := range anns {
		field := a.Field
		if field == "" {
			field = m.Field
		}
		if spec.Output == plugin.OutputLabels {
			if seen[field] {
				return fmt.Sprintf("annotation %d: a second label for the field %q: a classifier picks one label", i, field)
			}
			seen[field] = true
		}
		if !utf8.ValidString(a.Label) {
			return fmt.Sprintf("annotation %d: label %s is not valid UTF-8", i, quote(a.Label))
		}
		for j, it := range a.Items {
			if why := check(it.Name); why != "" {
				return fmt.Sprintf("annotation %d item %d: %s", i, j, why)
			}
			for k, v := range it.Attrs {
				if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
					return fmt.Sprintf("annotation %d item %d (%s): attribute %s=%s: want a non-empty key, and valid UTF-8",
						i, j, quote(it.Name), quote(truncate(k, 30)), quote(truncate(v, 30)))
				}
			}
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
