package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// OverrideModels sets a field of the config's models from the command line
// (valuescope run --model, --base-url), so that one config reaches another
// server or model without a copy of the file: key is "model" (the model id)
// or "base_url". Each spec is NAME=VALUE for the model named NAME, or VALUE
// alone when the config defines exactly one model. The run folder's
// config.toml then records what the run used.
func (c *Config) OverrideModels(key string, specs []string) error {
	flag := map[string]string{"model": "--model", "base_url": "--base-url"}[key]
	if flag == "" {
		return fmt.Errorf("no model setting %q to override", key)
	}
	names := slices.Sorted(maps.Keys(c.Models))
	defined := list(names)
	if len(names) == 0 {
		defined = "none"
	}
	c.Models = maps.Clone(c.Models) // the caller's config keeps its own
	for _, spec := range specs {
		name, value, named := strings.Cut(spec, "=")
		if !named || strings.Contains(name, "/") || strings.Contains(name, ":") {
			// A URL or a model id (org/model, name:tag) may hold '=' only
			// after characters no model name has.
			name, value = "", spec
		}
		if name == "" {
			if len(names) != 1 {
				return fmt.Errorf("%s %s: the config defines %d models (%s); say which: %s NAME=%s", flag, spec, len(names), defined, flag, spec)
			}
			name = names[0]
		}
		m, ok := c.Models[name]
		if !ok {
			return fmt.Errorf("%s %s: no model %q in the config (defined: %s)", flag, spec, name, defined)
		}
		switch key {
		case "model":
			if value == "" {
				return fmt.Errorf("%s %s: empty model id", flag, spec)
			}
			m.Model = value
		case "base_url":
			u, err := url.Parse(value)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s %s: %q is not an http(s) URL", flag, spec, value)
			}
			m.BaseURL = value
		}
		c.Models[name] = m
	}
	return nil
}
