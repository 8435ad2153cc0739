package explore_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/host/valuename"
	"github.com/valuescope/valuescope/internal/headless"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
)

// chrome is a headless Chromium tab (internal/headless: skipped without
// Chromium, failed under CI=true, where it is installed).
func chrome(t *testing.T) context.Context { return headless.Tab(t, 3*time.Minute) }

// annotation is an annotation as the conversation page shows it.
type annotation struct {
	Field, Value, Evidence, Href string
	Marked                       string // the text of the marks its evidence link points to
}

// readConversation reads the run-A annotations of the conversation page
// and, for each, the highlighted text its evidence link points to.
const readConversation = `[...document.querySelectorAll('.side-a li.ann')].map(li => {
	const ev = li.querySelector('blockquote.evidence a');
	const a = li.querySelector(':scope > a');
	let marked = '';
	if (ev) {
		const n = ev.getAttribute('href').slice(4); // #ev-N
		marked = [...document.querySelectorAll('mark.evidence')]
			.filter(m => m.dataset.ann.split(' ').includes(n)).map(m => m.textContent).join('');
	}
	return {Field: li.querySelector('.field').textContent, Value: a ? a.textContent : '',
		Evidence: ev ? ev.textContent.replace(/^“|”$/g, '') : '', Href: ev ? ev.getAttribute('href') : '', Marked: marked};
})`

// cdpRun runs one chromedp action that gives a value, failing the test on an
// error.
func cdpRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkHighlighted asserts the conversation page shows an annotation of
// value (by normalised name) whose evidence quote is highlighted in the
// text, and that its link scrolls to the highlight.
func checkHighlighted(t *testing.T, ctx context.Context, field, value string) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`.turn`)))
	anns := cdpRun(t, ctx, chromedp.Evaluate[[]annotation](readConversation))
	for _, a := range anns {
		if a.Field != field || valuename.Key(a.Value) != valuename.Key(value) {
			continue
		}
		if a.Evidence == "" || a.Href == "" {
			t.Fatalf("annotation %s of %s has no evidence found in the text: %+v", a.Value, field, a)
		}
		if collapseSpace(a.Marked) != collapseSpace(a.Evidence) {
			t.Fatalf("annotation %s: evidence %q, highlighted %q", a.Value, a.Evidence, a.Marked)
		}
		// Its quote links to the highlight, which becomes the target (a
		// mark, or the anchor just before the mark it shares with another
		// annotation's evidence).
		do(t, ctx, chromedp.Click(chromedp.CSS(`.side-a li.ann blockquote.evidence a[href="`+a.Href+`"]`)))
		target := cdpRun(t, ctx, chromedp.Evaluate[string](`(() => {
			const t = document.querySelector(':target');
			if (!t) return '';
			const m = t.matches('mark') ? t : t.nextElementSibling;
			return m && m.matches('mark.evidence') && m.dataset.ann.split(' ').includes(t.id.slice(3)) ? '#' + t.id : 'not a mark: ' + t.outerHTML;
		})()`))
		if target != a.Href {
			t.Fatalf("clicking the quote targets %q, want %s", target, a.Href)
		}
		return
	}
	t.Fatalf("the conversation page has no annotation %s of %s: %+v", value, field, anns)
}

func TestBrowser(t *testing.T) {
	ctx := chrome(t)
	a := testruns.Offline(t, "hh-rlhf")
	// Arm B: the same conversations, the extractor configured otherwise
	// (assistant turns under 300 characters skipped): a model A/B's shape.
	data, _ := filepath.Abs(shareddata.Path(t, "hh-rlhf"))
	b := offlineRun(t, data, "arm-b", "[stages.config]\nmin_turn_chars = 300\n")
	e, srv := serve(t, explore.Options{Text: true}, a, b)
	slugA, slugB := e.Runs()[0].Slug, e.Runs()[1].Slug

	t.Run("value", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv.URL+"/r/"+slugA+"/"), chromedp.WaitVisible(chromedp.CSS(`#field-ai_values a.value`)))
		value := cdpRun(t, ctx, chromedp.Text(chromedp.CSS(`#field-ai_values a.value`)))
		do(t, ctx, chromedp.Click(chromedp.CSS(`#field-ai_values a.value`)), chromedp.WaitVisible(chromedp.CSS(`ol.convs a.conv`)))
		href := cdpRun(t, ctx, chromedp.AttributeValue(chromedp.CSS(`ol.convs a.conv`), "href")).Value
		do(t, ctx, chromedp.Click(chromedp.CSS(`ol.convs a.conv`)))
		if !strings.Contains(href, "/conversation?") {
			t.Fatalf("the list links to %s", href)
		}
		checkHighlighted(t, ctx, "ai_values", value)
	})

	t.Run("heatmap cell", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv.URL+"/r/"+slugA+"/"), chromedp.WaitVisible(chromedp.CSS(`section.heatmap a.cell`)))
		href := cdpRun(t, ctx, chromedp.AttributeValue(chromedp.CSS(`section.heatmap a.cell`), "href")).Value
		do(t, ctx, chromedp.Click(chromedp.CSS(`section.heatmap a.cell`)), chromedp.WaitVisible(chromedp.CSS(`ol.convs a.conv`)))
		nums := cdpRun(t, ctx, chromedp.Text(chromedp.CSS(`p.cellnums`)))
		do(t, ctx, chromedp.Click(chromedp.CSS(`ol.convs a.conv`)))
		u, err := url.Parse(href)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("col") == "" || q.Get("cv") == "" || !strings.Contains(nums, "adjusted residual") {
			t.Fatalf("the cell links to %s, its list shows %q", href, nums)
		}
		checkHighlighted(t, ctx, q.Get("field"), q.Get("value"))
	})

	t.Run("model A/B disagreements", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv.URL+"/r/"+slugA+"/"), chromedp.WaitVisible(chromedp.CSS(`#disagree-`+slugB)),
			chromedp.Click(chromedp.CSS(`#disagree-`+slugB)), chromedp.WaitVisible(chromedp.CSS(`table.disagreements a.conv`)))
		rows := cdpRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.disagreements a.conv').length`))
		id := cdpRun(t, ctx, chromedp.Text(chromedp.CSS(`table.disagreements a.conv`)))
		do(t, ctx, chromedp.Click(chromedp.CSS(`table.disagreements a.conv`)), chromedp.WaitVisible(chromedp.CSS(`.side-b`)))
		sides := cdpRun(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.side')].map(s => s.querySelector('h2').textContent + ': ' +
			[...s.querySelectorAll('li.ann')].filter(li => li.querySelector('.field').textContent === 'ai_values').map(li => li.querySelector(':scope > a').textContent).sort().join(','))`))
		if rows == 0 || len(sides) != 2 {
			t.Fatalf("%d disagreements listed; sides %v", rows, sides)
		}
		_, va, _ := strings.Cut(sides[0], ": ")
		_, vb, _ := strings.Cut(sides[1], ": ")
		if va == vb {
			t.Fatalf("conversation %s listed as a disagreement, but both runs show %v", id, sides)
		}
		t.Logf("%d disagreements on the first page; %s: %v", rows, id, sides)
	})
}
