package model

import (
	"net/url"
	"strings"

	"github.com/valuescope/valuescope/host/model/anthropic"
	"github.com/valuescope/valuescope/host/model/openai"
)

// PricesListed is when the listed prices were taken from the providers'
// pricing pages (platform.claude.com/docs/en/about-claude/pricing,
// openai.com/api/pricing). Prices change: a config's input_price and
// output_price replace them, and a model not listed is not priced.
const PricesListed = "2026-12-02"

// Price is a model's price in US dollars per million tokens.
type Price struct{ Input, Output float64 }

// listedPrices are the standard (not batch, not cached) prices by model id
// prefix, for the providers' own APIs. A model id matches an entry when it
// is the entry or continues it with "-" and a digit (a version or a date:
// claude-sonnet-4-5-20250929, gpt-4o-2024-08-06) or with "-latest", the longest entry
// winning; "o3-pro" matches no "o3" entry, since it is another model.
var listedPrices = map[string]map[string]Price{
	"anthropic": {
		"claude-fable-5":    {10, 50},
		"claude-mythos-5":   {10, 50},
		"claude-opus-5":     {5, 25},
		"claude-opus-4-8":   {5, 25},
		"claude-opus-4-7":   {5, 25},
		"claude-opus-4-6":   {5, 25},
		"claude-opus-4-5":   {5, 25},
		"claude-opus-4-1":   {15, 75},
		"claude-opus-4-0":   {15, 75},
		"claude-opus-4":     {15, 75}, // claude-opus-4-20250514
		"claude-sonnet-4":   {3, 15},  // 4, 4.5, 4.6
		"claude-3-7-sonnet": {3, 15},
		"claude-haiku-4-5":  {1, 5},
		"claude-3-5-haiku":  {0.80, 4},
		"claude-3-haiku":    {0.25, 1.25},
		"claude-3-opus":     {15, 75},
	},
	"openai": {
		"gpt-5.4":                {2.50, 15},
		"gpt-5.1":                {1.25, 10},
		"gpt-5":                  {1.25, 10},
		"gpt-5-mini":             {0.25, 2},
		"gpt-5-nano":             {0.05, 0.40},
		"gpt-5-pro":              {15, 120},
		"gpt-4.1":                {2, 8},
		"gpt-4.1-mini":           {0.40, 1.60},
		"gpt-4.1-nano":           {0.10, 0.40},
		"gpt-4o":                 {2.50, 10},
		"gpt-4o-2024-05-13":      {5, 15}, // the first gpt-4o snapshot kept its launch price
		"gpt-4o-mini":            {0.15, 0.60},
		"o3":                     {2, 8},
		"o3-mini":                {1.10, 4.40},
		"o4-mini":                {1.10, 4.40},
		"text-embedding-3-small": {0.02, 0},
		"text-embedding-3-large": {0.13, 0},
	},
}

// ListedPrice is the listed price of a model of a provider's own API.
func ListedPrice(provider, modelID string) (Price, bool) {
	best, found := "", false
	var price Price
	for prefix, p := range listedPrices[provider] {
		rest, ok := strings.CutPrefix(modelID, prefix)
		if !ok || len(prefix) <= len(best) {
			continue
		}
		if rest == "" || rest == "-latest" || (len(rest) >= 2 && rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9') {
			best, price, found = prefix, p, true
		}
	}
	return price, found
}

// ownAPI reports whether s calls its provider's own API (where the listed
// prices apply), not another server speaking its protocol: the same scheme
// and host as the provider's default URL.
func ownAPI(s Settings) bool {
	def := map[string]string{"anthropic": anthropic.DefaultBaseURL, "openai": openai.DefaultBaseURL}[s.Provider]
	if def == "" {
		return false
	}
	if s.BaseURL == "" {
		return true
	}
	u, err := url.Parse(s.BaseURL)
	d, _ := url.Parse(def)
	return err == nil && u.Scheme == d.Scheme && strings.EqualFold(u.Host, d.Host)
}

// KeyEnv is the environment variable a model's API key is read from, and
// whether it must be set: the config's api_key_env (required), else
// ANTHROPIC_API_KEY for anthropic wherever it is served (a gateway or a
// proxy of the Messages API takes Anthropic's key), OPENAI_API_KEY for
// OpenAI's own API (both required), else none (a local OpenAI-compatible
// server needs no key).
func KeyEnv(s Settings) (env string, required bool) {
	switch {
	case s.APIKeyEnv != "":
		return s.APIKeyEnv, true
	case s.Provider == "anthropic":
		return "ANTHROPIC_API_KEY", true
	case s.Provider == "openai" && ownAPI(s):
		return "OPENAI_API_KEY", true
	}
	return "", false
}
