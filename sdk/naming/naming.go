// Package naming is what a namer plugin written in Go uses beside sdk: the
// cluster the host sends (Read) and the answer it expects (Answer). A namer
// (Manifest.Kind protocol.Namer) names the clusters of a value taxonomy, one
// cluster per ProcessRequest: the cluster travels as the conversation's
// meta_json, which has no turns, and the plugin answers, after any rounds of
// model calls, with one annotation of the field protocol.FieldClusterName
// holding one item: the cluster's name, with its description in the
// attribute protocol.AttrDescription. sdk/ABI.md ("Namer plugins") is the
// contract for any language.
//
// Cluster and Member are not messages of the .proto: they are the JSON a
// namer finds in Conversation.meta_json.
package naming

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// Cluster is one cluster to name.
type Cluster struct {
	// Level is the cluster's level in the tree: 1 for clusters of values,
	// 2 and up for clusters of the level below's clusters.
	Level int `json:"level"`
	// Members are the values (level 1) or the named clusters of the level
	// below, closest to the cluster's centroid first.
	Members []Member `json:"members"`
	// Contrast names the nearest values (or clusters) outside the cluster,
	// nearest first, for contrastive naming; absent when the host was asked
	// for none.
	Contrast []string `json:"contrast,omitempty"`
}

// Member is a value, or a cluster of the level below, in a Cluster.
type Member struct {
	Name string `json:"name"`
	// Count is how often the value occurs (a cluster's: its values' sum).
	Count float64 `json:"count"`
	// Similarity is the cosine of the member and the cluster's centroid.
	Similarity float64 `json:"similarity"`
}

// Conversation is the request's conversation carrying c, for the host.
func Conversation(id string, c Cluster) (*protocol.Conversation, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return &protocol.Conversation{ID: id, MetaJSON: string(b)}, nil
}

// ErrNoCluster is Read's error for a request that carries no cluster: an
// ordinary conversation sent to a namer.
var ErrNoCluster = errors.New("the request carries no cluster in meta_json: a namer names taxonomy clusters, not conversations (sdk/ABI.md, \"Namer plugins\")")

// Read returns the cluster a namer's request carries. Unknown keys are
// ignored (the protocol grows compatibly); a cluster without members, or
// below level 1, is an error.
func Read(c *protocol.Conversation) (Cluster, error) {
	var cl Cluster
	if c == nil || c.MetaJSON == "" {
		return cl, ErrNoCluster
	}
	if err := json.Unmarshal([]byte(c.MetaJSON), &cl); err != nil {
		return cl, fmt.Errorf("meta_json is not a cluster: %v", err)
	}
	switch {
	case len(cl.Members) == 0:
		return cl, errors.New("the cluster has no members")
	case cl.Level < 1:
		return cl, fmt.Errorf("the cluster's level is %d: want 1 or more", cl.Level)
	}
	return cl, nil
}

// Answer is a namer's answer: the cluster's name and description.
func Answer(name, description string) []protocol.Annotation {
	it := protocol.Item{Name: name}
	if description != "" {
		it.Attrs = map[string]string{protocol.AttrDescription: description}
	}
	return []protocol.Annotation{{Field: protocol.FieldClusterName, Items: []protocol.Item{it}}}
}
