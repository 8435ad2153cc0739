// Package paperattack is a subtraction attack on the published paper
// tables ("Compared with the paper": report.json's paper, compare --paper
// --json), for tests: what an attacker who reads them, and knows which
// clusters are zero (a worst case), can derive about a cluster withheld
// under the privacy floor.
package paperattack

import (
	"encoding/json"
	"fmt"

	"github.com/valuescope/valuescope/host/compare"
)

// Node is a cluster as published: Share null (or the node absent) is a
// blank.
type Node struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	Parent      string   `json:"parent"`
	Occurrences int      `json:"occurrences"`
	Share       *float64 `json:"share"`
}

// Published is the part of a paper report the attack reads.
type Published struct {
	Occurrences int `json:"occurrences"`
	Levels      []struct {
		Level int    `json:"level"`
		Nodes []Node `json:"nodes"`
	} `json:"levels"`
}

// Truth is, per cluster name, the run's occurrences under it and whether
// the floor hides it (from an unfloored comparison).
type Truth struct {
	Occurrences map[string]int
	Protected   map[string]bool
	// Children lists the level-2 clusters under each top-level one.
	Children map[string][]string
}

// Leaks returns each protected cluster whose count follows from the
// published JSON by one subtraction (a published sum with one non-zero
// blank under it, or a blank whose non-zero children are all published),
// and each published zero.
func Leaks(pub []byte, tr Truth) ([]string, error) {
	var p Published
	if err := json.Unmarshal(pub, &p); err != nil {
		return nil, err
	}
	shown := map[string]int{}
	var leaks []string
	var tops []string
	for k, l := range p.Levels {
		for _, n := range l.Nodes {
			if k == 0 {
				tops = append(tops, n.Name)
			}
			if n.Share == nil {
				continue
			}
			shown[n.Name] = n.Occurrences
			if n.Occurrences == 0 {
				leaks = append(leaks, fmt.Sprintf("%s: a zero is published (a blank then marks a small count)", n.Name))
			}
		}
	}
	check := func(sum int, known bool, parts []string, what string) {
		if !known {
			return
		}
		var blank []string
		rest := sum
		for _, c := range parts {
			if v, ok := shown[c]; ok {
				rest -= v
			} else if tr.Occurrences[c] > 0 {
				blank = append(blank, c)
			}
		}
		if len(blank) == 1 && tr.Protected[blank[0]] {
			leaks = append(leaks, fmt.Sprintf("%s = %s less the published ones = %d (true %d)", blank[0], what, rest, tr.Occurrences[blank[0]]))
		}
	}
	check(p.Occurrences, len(p.Levels) > 0, tops, "the total")
	for _, top := range tops {
		v, ok := shown[top]
		check(v, ok, tr.Children[top], top)
		if !ok && tr.Protected[top] && tr.Occurrences[top] > 0 && len(p.Levels) > 1 {
			sum, all := 0, true
			for _, c := range tr.Children[top] {
				if v, ok := shown[c]; ok {
					sum += v
				} else if tr.Occurrences[c] > 0 {
					all = false
				}
			}
			if all {
				leaks = append(leaks, fmt.Sprintf("%s = the sum of its published children = %d", top, sum))
			}
		}
	}
	return leaks, nil
}

// TruthOf reads the truth from a comparison without a floor (every
// non-zero cluster shown): protected are the clusters in fewer than
// minConversations conversations.
func TruthOf(all *compare.PaperReport, minConversations int) Truth {
	tr := Truth{Occurrences: map[string]int{}, Protected: map[string]bool{}, Children: map[string][]string{}}
	for k, l := range all.Levels {
		for _, n := range l.Nodes {
			tr.Occurrences[n.Name] = n.Occurrences
			tr.Protected[n.Name] = n.Occurrences > 0 && n.Conversations < minConversations
			if k == 1 {
				tr.Children[n.Parent] = append(tr.Children[n.Parent], n.Name)
			}
		}
	}
	return tr
}
