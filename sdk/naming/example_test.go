package naming_test

import (
	"fmt"

	"github.com/valuescope/valuescope/sdk/naming"
)

// A namer reads the cluster its request carries and answers with a name and
// a description. Here the host's side (Conversation) builds the request.
func Example() {
	req, err := naming.Conversation("cluster-7", naming.Cluster{
		Level: 1,
		Members: []naming.Member{
			{Name: "honesty", Count: 12, Similarity: 0.91},
			{Name: "transparency", Count: 5, Similarity: 0.84},
		},
		Contrast: []string{"efficiency"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(req.MetaJSON)

	// The plugin's side.
	c, err := naming.Read(req)
	if err != nil {
		panic(err)
	}
	ann := naming.Answer("Truthfulness", "Being honest and open about "+c.Members[0].Name+" and "+c.Members[1].Name)
	fmt.Println(ann[0].Field, "=", ann[0].Items[0].Name)

	_, err = naming.Read(nil)
	fmt.Println(err == naming.ErrNoCluster)
	// Output:
	// {"level":1,"members":[{"name":"honesty","count":12,"similarity":0.91},{"name":"transparency","count":5,"similarity":0.84}],"contrast":["efficiency"]}
	// cluster_name = Truthfulness
	// true
}
