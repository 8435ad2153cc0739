package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk/protocol"
)

func (k *kit) checkConfigure(ctx context.Context) {
	if c := k.check("configure"); c.Status != "" {
		return
	}
	unknown := `{"valuescope_conformance_unknown_key": true}`
	var obj map[string]any
	if json.Unmarshal([]byte(k.opts.Config.ConfigJSON), &obj) == nil && obj != nil {
		obj["valuescope_conformance_unknown_key"] = true
		b, _ := json.Marshal(obj)
		unknown = string(b)
	}
	cases := []struct {
		name, config, advice string
	}{
		{"a config with an unknown key", unknown,
			"refuse keys you do not know, so that a typo in a run config stops the run instead of being ignored (sdk.DecodeConfig does this)"},
		{"a config that is not JSON", `{"valuescope_conformance": `,
			"return an error when config_json does not decode"},
	}
	var problems, details []string
	for _, c := range cases {
		mark := k.tail.count()
		p, _, err := k.loader(ctx, k.ref, k.pluginOptions(protocol.ConfigureRequest{ConfigJSON: c.config, Prompt: k.opts.Config.Prompt}, 1))
		switch {
		case err == nil:
			k.closePlugin(p)
			problems = append(problems, fmt.Sprintf("accepted %s (%s): %s", c.name, c.config, c.advice))
		case strings.Contains(err.Error(), "configuration refused"):
			details = append(details, fmt.Sprintf("%s: refused: %s", c.name, truncate(afterLast(err.Error(), "configuration refused: "), 160)))
		case isTrap(err):
			problems = append(problems, fmt.Sprintf("trapped on %s (%s) instead of refusing it with an error: %v%s", c.name, c.config, err, k.stderrNote(mark, err.Error())))
		default:
			problems = append(problems, fmt.Sprintf("failed to load with %s (%s) instead of refusing it with an error: %v", c.name, c.config, err))
		}
	}
	if len(problems) > 0 {
		k.set("configure", Fail, problems[0], append(problems[1:], details...)...)
		return
	}
	k.set("configure", Pass, fmt.Sprintf("refused %d bad configs with an error", len(cases)), details...)
}

// --- running conversations ---------------------------------------------
