package pipeline

import (
	"io"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
)

// CountDuplicates reads src to the end as the pipeline's reading does,
// telling duplicates when check is set (for BenchmarkDuplicateCheck): the
// conversations read and the duplicates among them.
func CountDuplicates(src dataset.Source, check bool) (n, dups int) {
	f := newFirsts()
	l, _ := src.(locator)
	for {
		c, err := src.Next()
		if err == io.EOF {
			return n, dups
		}
		if err != nil {
			continue
		}
		n++
		if !check {
			continue
		}
		if f.check(c.ID, c.Source, conversation.ContentID(c.Turns), l.Location()) != "" {
			dups++
		}
	}
}
