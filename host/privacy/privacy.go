// Package privacy is the privacy floor, the one rule every output of
// valuescope follows ("Values in the Wild" is a privacy-preserving method):
// nothing is reported — a value, a cluster, a table cell, a context, a name —
// that rests on fewer than a minimum of distinct conversations, or, where the
// data names users, of distinct users.
//
// The floor is counted in distinct conversations, never in occurrences: a
// value extracted five times from one conversation rests on one.
package privacy

import "fmt"

// Floor is the privacy floor. Zero disables a bound.
type Floor struct {
	MinConversations int `json:"min_conversations" toml:"min_conversations"`
	MinUsers         int `json:"min_users" toml:"min_users"`
}

// Default is the floor when none is configured: 5 distinct conversations
// and 5 distinct users.
var Default = Floor{MinConversations: 5, MinUsers: 5}

// Pass reports whether something resting on conversations distinct
// conversations and users distinct users may be reported. usersKnown is
// false when the data names no users; the users bound then does not apply.
func (f Floor) Pass(conversations, users float64, usersKnown bool) bool {
	return conversations >= float64(f.MinConversations) && (!usersKnown || users >= float64(f.MinUsers))
}

// Check refuses a floor with a negative bound.
func (f Floor) Check() error {
	if f.MinConversations < 0 || f.MinUsers < 0 {
		return fmt.Errorf("privacy floor: min_conversations %d and min_users %d must not be negative", f.MinConversations, f.MinUsers)
	}
	return nil
}

// Off reports whether the floor hides nothing.
func (f Floor) Off(usersKnown bool) bool {
	return f.MinConversations <= 1 && (f.MinUsers <= 1 || !usersKnown)
}
