package taxonomy

import (
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/valuename"
)

// Value is a value name with how often it was seen (or a weight).
type Value struct {
	Name  string  `json:"value"`
	Count float64 `json:"count"`
}

// Item is one distinct value after normalisation: the names that differ only
// in case, spacing, punctuation, a simple plural or a spelling variant
// ("Well-being", "wellbeing", "well being") with their counts summed. Items
// are what is embedded and clustered; every variant stays a leaf of the tree.
type Item struct {
	Key      string    `json:"key"`
	Name     string    `json:"name"` // the most frequent variant
	Count    float64   `json:"count"`
	Variants []Variant `json:"variants"`
}

// Variant is one written form of an item (after valuename.Canon).
type Variant struct {
	Name  string  `json:"name"`
	Count float64 `json:"count"`
}

// Key is valuename.Key, kept here for the callers that name it through the
// taxonomy (host/report); new code calls valuename.Key.
func Key(s string) string { return valuename.Key(s) }

// Normalize groups values into items: exact duplicates (equal
// valuename.Canon) merge with their counts summed into one variant, variants
// with one valuename.Key into one item. Values whose name is empty after
// Canon are returned as dropped. Items come sorted by count (descending),
// then key.
func Normalize(values []Value) (items []Item, dropped []Value) {
	byKey := map[string]*Item{}
	var order []*Item
	for _, v := range values {
		c := valuename.Canon(v.Name)
		if c == "" {
			dropped = append(dropped, v)
			continue
		}
		k := valuename.Key(c)
		it := byKey[k]
		if it == nil {
			it = &Item{Key: k}
			byKey[k] = it
			order = append(order, it)
		}
		it.Count += v.Count
		found := false
		for i := range it.Variants {
			if it.Variants[i].Name == c {
				it.Variants[i].Count += v.Count
				found = true
				break
			}
		}
		if !found {
			it.Variants = append(it.Variants, Variant{Name: c, Count: v.Count})
		}
	}
	items = make([]Item, len(order))
	for i, it := range order {
		slices.SortFunc(it.Variants, func(a, b Variant) int {
			if a.Count != b.Count {
				if a.Count > b.Count {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		it.Name = it.Variants[0].Name
		items[i] = *it
	}
	slices.SortFunc(items, func(a, b Item) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	return items, dropped
}
