package explore_test

import (
	"html"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/internal/testruns"
)

// The overview says what the report says: the offline extractor does not
// read the Chinese ShareGPT file's language, and a table with nothing to
// test is a sentence, not "χ² = NA".
func TestOverviewWarns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the offline stages over the Chinese ShareGPT file")
	}
	e, srv := serve(t, explore.Options{}, testruns.Offline(t, "sharegpt/sharegpt_zh_1K_format.jsonl"))
	base := srv.URL + "/r/" + e.Runs()[0].Slug + "/"
	code, body := get(t, base)
	if code != 200 {
		t.Fatalf("overview: %d\n%s", code, body)
	}
	page := html.UnescapeString(body)
	if !strings.Contains(page, "reads only English") || !strings.Contains(page, `class="warn"`) {
		t.Errorf("the overview does not warn that the extractor does not read the conversations' language:\n%.2000s", page)
	}
	if strings.Contains(page, "χ² = NA") || strings.Contains(page, "df = 0") {
		t.Errorf("the overview shows a table with nothing to test as if it had a test")
	}
	var page2 struct{ Body explore.Overview }
	getJSON(t, srv.URL+"/api/r/"+e.Runs()[0].Slug+"/", &page2)
	ov := page2.Body
	if len(ov.Warnings) == 0 {
		t.Error("the overview's JSON has no warnings")
	}
	for _, h := range ov.Heatmaps {
		if h.Degenerate != "" && !strings.Contains(page, h.Degenerate) {
			t.Errorf("%s: %q not shown", h.Table, h.Degenerate)
		}
	}
}
