package model

import "testing"

func TestListedPrice(t *testing.T) {
	for _, c := range []struct {
		provider, id string
		want         Price
		ok           bool
	}{
		{"anthropic", "claude-sonnet-4-5-20250929", Price{3, 15}, true},
		{"anthropic", "claude-sonnet-4-5", Price{3, 15}, true},
		{"anthropic", "claude-opus-4-20250514", Price{15, 75}, true},
		{"anthropic", "claude-opus-4-1-20250805", Price{15, 75}, true},
		{"anthropic", "claude-opus-4-5", Price{5, 25}, true},
		{"anthropic", "claude-haiku-4-5", Price{1, 5}, true},
		{"anthropic", "claude-3-5-haiku-latest", Price{0.80, 4}, true},
		{"anthropic", "claude-3-5-haiku-preview", Price{}, false},
		{"openai", "gpt-4o-mini-2024-07-18", Price{0.15, 0.60}, true},
		{"openai", "gpt-4o", Price{2.50, 10}, true},
		{"openai", "gpt-4o-2024-05-13", Price{5, 15}, true},
		{"openai", "gpt-5-mini", Price{0.25, 2}, true},
		{"openai", "o3-pro", Price{}, false}, // another model, not o3
		{"openai", "gpt-4o-realtime-preview", Price{}, false},
		{"openai", "claude-sonnet-4-5", Price{}, false},
		{"anthropic", "", Price{}, false},
	} {
		got, ok := ListedPrice(c.provider, c.id)
		if ok != c.ok || got != c.want {
			t.Errorf("%s %s: %v %v, want %v %v", c.provider, c.id, got, ok, c.want, c.ok)
		}
	}
}

// A provider's own API is priced by the list unless the config prices it;
// another server speaking its protocol (vLLM, a proxy) is not.
func TestPricesApplied(t *testing.T) {
	for _, c := range []struct {
		s      Settings
		in     float64
		source string
	}{
		{Settings{Provider: "anthropic", Model: "claude-haiku-4-5"}, 1, "listed " + PricesListed},
		{Settings{Provider: "anthropic", Model: "claude-haiku-4-5", InputPrice: 0.5, OutputPrice: 2}, 0.5, ""},
		{Settings{Provider: "openai", Model: "gpt-4o", BaseURL: "http://127.0.0.1:8000/v1"}, 0, ""},
		{Settings{Provider: "openai", Model: "Qwen/Qwen2.5-7B-Instruct"}, 0, ""},
		{Settings{Provider: "anthropic", Model: "claude-haiku-4-5", BaseURL: "https://api.anthropic.com.evil.test"}, 0, ""},
	} {
		cl, err := New([]Model{{Name: "m", Settings: c.s}}, Options{Offline: true})
		if err != nil {
			t.Fatal(err)
		}
		info := cl.Models()[0]
		if info.InputPrice != c.in || info.PriceSource != c.source {
			t.Errorf("%+v: price %v (%q), want %v (%q)", c.s, info.InputPrice, info.PriceSource, c.in, c.source)
		}
		cl.Close()
	}
}

func TestKeyEnv(t *testing.T) {
	for _, c := range []struct {
		s        Settings
		env      string
		required bool
	}{
		{Settings{Provider: "anthropic"}, "ANTHROPIC_API_KEY", true},
		{Settings{Provider: "openai"}, "OPENAI_API_KEY", true},
		{Settings{Provider: "openai", BaseURL: "http://localhost:8000/v1"}, "", false},
		{Settings{Provider: "openai", BaseURL: "http://localhost:8000/v1", APIKeyEnv: "LOCAL_KEY"}, "LOCAL_KEY", true},
		{Settings{Provider: "anthropic", BaseURL: "https://gateway.example/anthropic"}, "ANTHROPIC_API_KEY", true},
		{Settings{Provider: "openai", BaseURL: "https://api.openai.com.evil.test/v1"}, "", false},
		{Settings{Provider: "openai", BaseURL: "https://API.openai.com/v1"}, "OPENAI_API_KEY", true},
	} {
		if env, req := KeyEnv(c.s); env != c.env || req != c.required {
			t.Errorf("%+v: %q %v, want %q %v", c.s, env, req, c.env, c.required)
		}
	}
}
