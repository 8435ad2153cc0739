package config

import (
	"strings"
	"testing"
)

func TestOverrideModels(t *testing.T) {
	one := func() *Config {
		return &Config{Models: map[string]Model{"local": {Provider: "openai", Model: "Qwen/Qwen2.5-7B-Instruct", BaseURL: "http://localhost:8000/v1"}}}
	}
	c := one()
	orig := c.Models
	if err := c.OverrideModels("model", []string{"llama3.1:8b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.OverrideModels("base_url", []string{"http://127.0.0.1:11434/v1?x=y"}); err != nil {
		t.Fatal(err)
	}
	if m := c.Models["local"]; m.Model != "llama3.1:8b" || m.BaseURL != "http://127.0.0.1:11434/v1?x=y" || m.Provider != "openai" {
		t.Fatalf("overridden: %+v", m)
	}
	if orig["local"].Model != "Qwen/Qwen2.5-7B-Instruct" {
		t.Fatal("the caller's config changed too")
	}

	two := &Config{Models: map[string]Model{"a": {Model: "x"}, "b": {Model: "y"}}}
	if err := two.OverrideModels("model", []string{"b=org/z"}); err != nil || two.Models["b"].Model != "org/z" || two.Models["a"].Model != "x" {
		t.Fatalf("NAME=VALUE: %v %+v", err, two.Models)
	}
	for _, c := range []struct {
		cfg       *Config
		key, spec string
		wantErr   string
	}{
		{two, "model", "z", "the config defines 2 models (a, b); say which: --model NAME=z"},
		{two, "model", "c=z", `no model "c" in the config (defined: a, b)`},
		{&Config{}, "model", "z", "defines 0 models (none)"},
		{one(), "base_url", "localhost:8000", "is not an http(s) URL"},
		{one(), "base_url", "local=ftp://h/v1", "is not an http(s) URL"},
		{one(), "model", "local=", "empty model id"},
		{one(), "timeout", "1s", "no model setting"},
	} {
		err := c.cfg.OverrideModels(c.key, []string{c.spec})
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s %q: %v, want %q", c.key, c.spec, err, c.wantErr)
		}
	}
}
