package report

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/runfolder"
)

func renderHTML(w io.Writer, d *Data, js []byte) error {
	return page.Execute(w, struct {
		*Data
		JSON template.JS
	}{d, template.JS(js)}) // json.Marshal escapes <, > and &: safe in a script element
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"bars":     bars,
	"heat":     heat,
	"pairbars": pairBars,
	"topdiffs": topDiffs,
	"pct":      pct,
	"num":      num,
	"short":    func(s string) string { return shorten(s, 16) },
	"sub":      func(a, b int) int { return a - b },
	"mul100":   func(x float64) float64 { return 100 * x },
	"deref":    func(p *float64) float64 { return *p },
	"join":     strings.Join,
	"degen":    degenerate,
	"float":    func(x analysis.Number) float64 { return float64(x) },
	"ci":       interval,
	"sigfrom":  significanceFrom,
}).Parse(pageHTML))

// title names the run and its dataset, so that two reports open side by
// side are told apart.
func title(run string, m *runfolder.Manifest) string {
	t := "valuescope report: " + run
	if m == nil {
		return t
	}
	var files []string
	for _, f := range m.Dataset.Files {
		files = append(files, filepath.Base(f.Path))
	}
	if len(files) == 0 {
		for _, p := range m.Dataset.Paths {
			files = append(files, filepath.Base(p))
		}
	}
	switch {
	case len(files) == 0:
		return t
	case len(files) > 3:
		return fmt.Sprintf("%s on %s and %d more files", t, strings.Join(files[:2], ", "), len(files)-2)
	default:
		return t + " on " + strings.Join(files, ", ")
	}
}

// Degenerate says why the table has nothing to test ("" when it has), the
// sentence the report shows instead of it.
func (h *Heatmap) Degenerate() string { return degenerate(h) }

// degenerate says why a residual table has nothing to test ("" when it
// has): a heatmap of one column or one row, or a chi-square without
// degrees of freedom, only looks like a finding.
func degenerate(h *Heatmap) string {
	switch {
	case len(h.Values) == 0 || len(h.Contexts) == 0:
		return "No value and context above the privacy floor: nothing to test."
	case len(h.Contexts) == 1:
		return fmt.Sprintf("Only one %s (%s) has values above the privacy floor: there is nothing to compare the values across, so no residual is shown.", h.Cols, h.Contexts[0])
	case len(h.Values) == 1 && h.HiddenValues == 0:
		return fmt.Sprintf("Only one value (%s) is above the privacy floor: there is nothing to compare the %s across, so no residual is shown.", h.Values[0], h.Cols)
	case h.Summary.DF == 0 || math.IsNaN(float64(h.Summary.ChiSquare)):
		return fmt.Sprintf("The table has %d rows and %d columns with counts: the chi-square test has no degrees of freedom, so there is nothing to test.", h.Summary.Rows-h.Summary.EmptyRows, h.Summary.Cols-h.Summary.EmptyCols)
	}
	return ""
}

// significanceFrom says where significance starts: the smallest
// significant |residual|, or that no cell is significant.
func significanceFrom(s analysis.Summary) string {
	if math.IsNaN(float64(s.Threshold)) {
		return "no cell is significant"
	}
	return "significance from |r| ≥ " + num(s.Threshold)
}

func pct(x float64) string {
	switch {
	case x == 0:
		return "0%"
	case x < 0.001:
		return fmt.Sprintf("%.2f%%", 100*x)
	default:
		return fmt.Sprintf("%.1f%%", 100*x)
	}
}

// interval is a share's interval as "low … high%", blank when it has none.
func interval(i analysis.Interval) string { return compare.PercentInterval(i, " … ") }

func num(x analysis.Number) string {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return "NA"
	case f != 0 && math.Abs(f) < 1e-3:
		return fmt.Sprintf("%.2g", f)
	default:
		return fmt.Sprintf("%.3g", f)
	}
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string { return html.EscapeString(s) }

// bars is a horizontal bar chart of counts with their shares.
func bars(vals []Count) template.HTML {
	if len(vals) == 0 {
		return `<p class="empty">No value above the privacy floor.</p>`
	}
	const label, barW, rowH, right = 230, 400, 20, 130
	maxShare := 0.0
	for _, v := range vals {
		maxShare = max(maxShare, v.Share)
	}
	h := len(vals)*rowH + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart bars" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, label+barW+right, h, label+barW+right, h)
	for i, v := range vals {
		y := i*rowH + 3
		w := 0.0
		if maxShare > 0 {
			w = float64(barW) * v.Share / maxShare
		}
		fmt.Fprintf(&b, `<g><title>%s: %d conversations, %s</title><text x="%d" y="%d" class="lbl">%s</text><rect x="%d" y="%d" width="%.1f" height="%d" class="bar"/><text x="%.1f" y="%d" class="val">%d (%s)</text></g>`,
			esc(v.Value), v.Count, pct(v.Share), label-6, y+14, esc(shorten(v.Value, 34)), label, y+2, max(w, 1), rowH-4, float64(label)+w+5, y+14, v.Count, pct(v.Share))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// heat is a heatmap of adjusted residuals; significant cells are outlined
// and dotted.
func heat(h *Heatmap) template.HTML {
	if len(h.Values) == 0 || len(h.Contexts) == 0 {
		return `<p class="empty">No value and context above the privacy floor.</p>`
	}
	const label, cell, top, right = 230, 34, 110, 90
	wd := label + len(h.Contexts)*cell + right
	ht := top + len(h.Values)*cell + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart heat" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, wd, ht, wd, ht)
	for j, c := range h.Contexts {
		x := label + j*cell + cell/2
		fmt.Fprintf(&b, `<text class="col" transform="translate(%d,%d) rotate(-50)"><title>%s: %g conversations</title>%s</text>`, x+4, top-6, esc(c), h.ContextCounts[j], esc(shorten(c, 18)))
	}
	for i, v := range h.Values {
		y := top + i*cell
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl"><title>%s: %g conversations</title>%s</text>`, label-6, y+cell/2+4, esc(v), h.ValueCounts[i], esc(shorten(v, 34)))
		for j := range h.Contexts {
			x := label + j*cell
			c := h.Cells[i][j]
			if c == nil {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="na"><title>%s × %s: under the privacy floor</title></rect>`, x, y, cell-1, cell-1, esc(v), esc(h.Contexts[j]))
				continue
			}
			cls := ""
			if c.Significant {
				cls = ` class="sig"`
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"%s><title>%s × %s: count %g, expected %s, residual %s, adjusted p %s%s</title></rect>`,
				x, y, cell-1, cell-1, color(float64(c.Residual)), cls, esc(v), esc(h.Contexts[j]), c.Count, num(c.Expected), num(c.Residual), num(c.PAdjusted), map[bool]string{true: " (significant)"}[c.Significant])
			// The residual in the cell, so that the page reads without
			// hovering (and prints); bold when significant.
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="cell%s%s">%s</text>`, x+cell/2, y+cell/2+4, map[bool]string{true: " sig"}[c.Significant], map[bool]string{true: " light"}[lightInk(float64(c.Residual))], cellText(float64(c.Residual)))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="val">%g</text>`, label+len(h.Contexts)*cell+6, y+cell/2+4, h.ValueCounts[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// cellText is a residual as a cell shows it: one decimal.
func cellText(r float64) string {
	if math.IsNaN(r) {
		return "NA"
	}
	return fmt.Sprintf("%.1f", r)
}

// color maps a residual to a diverging scale: red above, blue below
// expectation, saturating at |r| = 6.
func color(r float64) string {
	if math.IsNaN(r) {
		return "#eeeeee"
	}
	red, g, b := colorRGB(r)
	return fmt.Sprintf("rgb(%d,%d,%d)", red, g, b)
}

// colorRGB is color's fill as red, green and blue (0..255).
func colorRGB(r float64) (int, int, int) {
	if math.IsNaN(r) {
		return 0xee, 0xee, 0xee
	}
	t := math.Max(-1, math.Min(1, r/6))
	v := int(255 * (1 - math.Abs(t)))
	if t >= 0 {
		return 255, v, v
	}
	return v, v, 255
}

// luminance is the WCAG 2 relative luminance of a colour.
func luminance(r, g, b int) float64 {
	lin := func(c int) float64 {
		x := float64(c) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// inkDark is the luminance of the cell text's usual colour (#1d2433).
var inkDark = luminance(0x1d, 0x24, 0x33)

// lightInk reports whether a cell of residual r takes white text: when
// white contrasts more with its fill than the dark text does (the deep
// blue of a strong negative residual).
func lightInk(r float64) bool {
	l := luminance(colorRGB(r))
	return (1.05)/(l+0.05) > (l+0.05)/(inkDark+0.05)
}

// pairBars shows each of the most frequent values' shares in run A and B.
func pairBars(f *compare.Fields, top int) template.HTML {
	vals := slices.Clone(f.Values)
	slices.SortStableFunc(vals, func(a, b compare.ValueDiff) int {
		return cmp.Compare(max(float64(b.ShareA), float64(b.ShareB)), max(float64(a.ShareA), float64(a.ShareB)))
	})
	vals = vals[:min(len(vals), top)]
	if len(vals) == 0 {
		return `<p class="empty">No value above the privacy floor.</p>`
	}
	const label, barW, rowH, right = 230, 360, 26, 150
	maxShare := 0.0
	for _, v := range vals {
		maxShare = max(maxShare, float64(v.ShareA), float64(v.ShareB))
	}
	maxShare = max(maxShare, 1e-9)
	ht := len(vals)*rowH + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart pairs" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, label+barW+right, ht, label+barW+right, ht)
	for i, v := range vals {
		y := i*rowH + 3
		wa, wb := float64(barW)*float64(v.ShareA)/maxShare, float64(barW)*float64(v.ShareB)/maxShare
		mark := ""
		if v.Significant {
			mark = " *"
		}
		fmt.Fprintf(&b, `<g><title>%s: A %d (%s), B %d (%s), difference %s, adjusted p %s</title><text x="%d" y="%d" class="lbl">%s%s</text><rect x="%d" y="%d" width="%.1f" height="10" class="bar a"/><rect x="%d" y="%d" width="%.1f" height="10" class="bar b"/><text x="%d" y="%d" class="val">%s / %s</text></g>`,
			esc(v.Value), v.CountA, pct(float64(v.ShareA)), v.CountB, pct(float64(v.ShareB)), num(v.Diff), num(v.PAdjusted),
			label-6, y+15, esc(shorten(v.Value, 32)), mark, label, y+1, max(wa, 1), label, y+12, max(wb, 1), label+barW+6, y+15, pct(float64(v.ShareA)), pct(float64(v.ShareB)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// topDiffs are the largest significant differences.
func topDiffs(f *compare.Fields, n int) []compare.ValueDiff {
	var out []compare.ValueDiff
	for _, v := range f.Values {
		if v.Significant {
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b compare.ValueDiff) int {
		return cmp.Compare(math.Abs(float64(b.Diff)), math.Abs(float64(a.Diff)))
	})
	return out[:min(len(out), n)]
}

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2433;background:#fafafa}
header{background:#1d2433;color:#fff;padding:16px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d1e0}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 28px;z-index:1}
nav a{margin-right:16px;color:#2a5bd7;text-decoration:none}
main{padding:4px 28px 40px;max-width:1200px}
section{margin:22px 0}
h2{border-bottom:2px solid #1d2433;padding-bottom:4px}
h3{margin:18px 0 6px}
.note{color:#555;font-size:13px}
.empty{color:#777;font-style:italic}
.warn{color:#8a4b00;background:#fff4e0;border-left:3px solid #e69500;padding:4px 8px;font-size:13px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px;word-break:break-all}
.chart{display:block;margin:6px 0;max-width:100%;height:auto}
.chart text{font-size:12px;fill:#1d2433}
.chart .lbl{text-anchor:end}
.chart .col{font-size:11px}
.chart .val{fill:#444}
.chart .bar{fill:#4c78a8}
.chart .bar.b{fill:#f58518}
.chart .na{fill:#f1f1f1}
.chart rect.sig{stroke:#000;stroke-width:1.5}
.chart .cell{font-size:10px;text-anchor:middle;fill:#1d2433}.chart .cell.light{fill:#fff}
.chart .cell.sig{font-weight:bold}
.key span{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 4px 0 12px}
.tree details{margin-left:18px}
.tree>details{margin-left:0}
.tree summary{cursor:pointer;padding:1px 0}
.tree summary:hover{background:#eef2fa}
.tree .sh{display:inline-block;height:9px;background:#4c78a8;margin:0 6px;vertical-align:middle}
.tree .c{color:#555;font-size:12px}
.tree .leaf{margin-left:36px;padding:1px 0}
.grid{display:flex;flex-wrap:wrap;gap:8px 36px}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p>{{.Run.Conversations}} conversations · run folder <code>{{.Run.Dir}}</code> · generated {{.Generated.Format "2006-01-02 15:04 UTC"}}</p>
</header>
<nav>{{if .Coverage}}<a href="#method">Method</a>{{end}}<a href="#values">Values</a><a href="#tree">Taxonomy</a><a href="#distributions">Response types &amp; tasks</a><a href="#residuals">Residuals</a>{{if .Paper}}<a href="#paper">Paper</a>{{end}}{{if .Compare}}<a href="#compare">Comparison</a>{{end}}<a href="#manifest">Manifest</a><a href="#privacy">Privacy floor</a></nav>
<main>
<p class="note">Every number on this page is in <code>report.json</code> beside it (also embedded at the end of this file). Counts are distinct conversations; a share is a count over the field's annotated conversations. Values resting on fewer than {{.Floor.MinConversations}} conversations{{if .Run.UserKey}} or {{.Floor.MinUsers}} users{{end}} are not shown (see <a href="#privacy">privacy floor</a>).</p>

{{with .Coverage}}<section id="method">
<h2>What this report is</h2>
{{range .Warnings}}<p class="warn">{{.}}</p>
{{end}}{{if .Methods}}<table><tr><th>stage</th><th>fields</th><th>plugin</th><th>method</th><th>model</th><th>languages read</th><th>conversations in other languages</th></tr>
{{range .Methods}}<tr><td>{{.Stage}}</td><td>{{join .Fields ", "}}</td><td><code>{{.Plugin}}</code></td><td>{{if .Heuristic}}<b>offline heuristic</b>: {{end}}{{.Description}}</td><td>{{.Model}}</td><td>{{if .Languages}}{{join .Languages ", "}}{{else}}not declared{{end}}</td><td class="n">{{if .Languages}}{{with .UncoveredNote}}{{.}}{{else}}{{.Uncovered}}{{end}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Read}}<p class="note">Languages of the {{.Read}} conversations read back from the dataset, from {{.LanguageSource}}: {{range $i, $l := .Languages}}{{if $i}}, {{end}}{{$l.Value}} {{$l.Count}} ({{pct $l.Share}}){{end}}. {{with .NoAssistantNote}}{{.}}{{else}}{{.NoAssistant}}{{end}} have no assistant turn.</p>{{end}}
{{with .Note}}<p class="note">{{.}}</p>{{end}}
</section>
{{end}}
<section id="values">
<h2>Top values</h2>
{{range .Fields}}{{if eq .Kind "items"}}
<h3>{{.Name}}</h3>
<p class="note">{{.Annotated}} annotated conversations{{if .Errors}}, {{.Errors}} errors{{end}}; {{.Distinct}} distinct values, {{.Mentions}} value–conversation pairs; {{if .Values}}top {{len .Values}} shown, each with its share of the annotated conversations{{else}}none above the privacy floor{{end}}.</p>
{{bars .Values}}
{{end}}{{end}}
</section>

<section id="tree">
<h2>Taxonomy</h2>
{{with .Taxonomy}}<p class="note">{{.Summary}}</p>{{end}}
<p class="note">Click a level to open or close it. Each node: the conversations with a value under it, and their share of the field's annotated conversations{{if .TreeReference}}; "paper" is the reference tree's share of all value occurrences, another unit than the run's share of conversations (the run's occurrence shares are beside the paper's under <a href="#paper">Compared with the paper</a>); "also" lists the run's values placed on a tree value by meaning (embedding) rather than by name{{end}}.</p>
<div class="tree">{{template "node" .Tree}}</div>
</section>

<section id="distributions">
<h2>Response types and tasks</h2>
<div class="grid">
{{range .Fields}}{{if eq .Kind "label"}}<div>
<h3>{{.Name}}</h3>
<p class="note">{{.Annotated}} classified conversations{{if .Errors}}, {{.Errors}} errors{{end}}.</p>
{{bars .Values}}
</div>{{end}}{{end}}
{{range .Contexts}}<div>
<h3>{{.Name}}</h3>
<p class="note">{{.Annotated}} conversations with a {{.Name}}; {{.Distinct}} distinct.</p>
{{bars .Values}}
</div>{{end}}
</div>
</section>

<section id="residuals">
<h2>Residuals: values × contexts</h2>
<p class="note">Adjusted Pearson residuals (package analysis): <span class="key"><span style="background:rgb(255,0,0)"></span>over-represented <span style="background:rgb(0,0,255)"></span>under-represented <span style="background:#f1f1f1"></span>under the privacy floor</span>; each cell shows its residual; outlined cells with bold numbers are significant after correction. Hover a cell for its count, expected count and adjusted p.</p>
{{range .Heatmaps}}
<h3>{{.Rows}} × {{.Cols}}</h3>
{{with degen .}}<p class="empty">{{.}}</p>{{else}}<p class="note">χ² = {{num .Summary.ChiSquare}}, df = {{.Summary.DF}}, p = {{num .Summary.P}}, Cramér's V = {{num .Summary.CramersV}}; {{.Summary.Correction}} correction per {{.Summary.Family}}, α = {{.Summary.Alpha}}, {{sigfrom .Summary}}; {{.Summary.SignificantPositive}} significant positive and {{.Summary.SignificantNegative}} negative cells.{{if .HiddenValues}} {{.HiddenValues}} less frequent values not drawn.{{end}}{{if .HiddenContexts}} {{.HiddenContexts}} contexts not drawn.{{end}}</p>
{{heat .}}{{end}}
{{end}}
</section>

{{with .Paper}}
<section id="paper">
<h2>Compared with the paper</h2>
<p class="note">The run's {{.Field}} placed on the paper's tree (Values in the Wild, arXiv 2504.15236): {{.Annotated}} annotated conversations ({{.WithValues}} with a value), {{.Occurrences}} value occurrences placed; {{printf "%.0f" (mul100 .Level)}}% intervals.</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Levels}}<h3>Level {{.Level}} clusters: {{.Unit}}</h3>
{{if .Empty}}<p class="empty">{{.Empty}}</p>
{{else}}<table><tr><th>cluster</th><th>occurrences</th><th>run</th><th>interval</th><th>paper</th></tr>
{{range .Nodes}}<tr><td>{{.Name}}{{with .Parent}} <span class="note">({{.}})</span>{{end}}</td>{{if .Shown}}<td class="n">{{.Occurrences}}</td><td class="n">{{pct (float .Share)}}</td><td class="n">{{ci .CI}}</td>{{else}}<td></td><td></td><td></td>{{end}}<td class="n">{{pct .Paper}}</td></tr>
{{end}}</table>{{if .Suppressed}}<p class="note">{{.Suppressed}} clusters blank: under the privacy floor, withheld so that none follows from the others by subtraction, or zero.</p>{{end}}
{{end}}{{end}}<h3>The run's top values: share of conversations with a value</h3>
{{if .ValuesEmpty}}<p class="empty">{{.ValuesEmpty}}</p>
{{else}}<table><tr><th>value</th><th>paper's value</th><th>conversations</th><th>run</th><th>interval</th><th>paper</th><th>interval</th></tr>
{{range .Values}}<tr><td>{{.Value}}</td><td>{{if .Leaf}}{{if .Exact}}= {{else}}~ {{end}}{{.Leaf}}{{else}}not placed{{end}}</td><td class="n">{{.Count}}</td><td class="n">{{pct (float .Share)}}</td><td class="n">{{ci .CI}}</td><td class="n">{{if .Leaf}}{{pct (float .Paper)}}{{end}}</td><td class="n">{{if .Leaf}}{{ci .PaperCI}}{{end}}</td></tr>
{{end}}</table>{{end}}
</section>
{{end}}

{{with .Compare}}
<section id="compare">
<h2>Comparison</h2>
<p class="note">Runs: {{range $i, $r := .Runs}}{{if $i}}, {{end}}<code>{{$r.Dir}}</code> ({{$r.Conversations}}){{end}}. Shares of annotated conversations; differences B − A with {{pct .Level}} intervals, {{.Correction}} correction, α = {{.Alpha}}; * marks a significant difference.</p>
{{range .Pairs}}
<h3>A = <code>{{.A}}</code>, B = <code>{{.B}}</code></h3>
<p class="note">{{.Shared}} shared conversations{{if .Sharing.Kind}} ({{.Sharing.Kind}}){{end}}.</p>
{{with .Sharing.Warning}}<p class="warn">{{.}}</p>{{end}}
{{range .Fields}}
<h3>{{.Field}} <span class="note">(A {{.NA}}, B {{.NB}} annotated; Jensen–Shannon {{num .JSD}} bits; Spearman {{num .Spearman}}; {{.Significant}} significant of {{.Tests}})</span></h3>
<p class="key note"><span style="background:#4c78a8"></span>A<span style="background:#f58518"></span>B</p>
{{pairbars . 20}}
{{with topdiffs . 15}}<table><tr><th>value</th><th>A</th><th>B</th><th>difference</th><th>interval</th><th>adjusted p</th></tr>
{{range .}}<tr><td>{{.Value}}</td><td class="n">{{.CountA}} ({{num .ShareA}})</td><td class="n">{{.CountB}} ({{num .ShareB}})</td><td class="n">{{num .Diff}}</td><td class="n">{{num .CI.Low}} … {{num .CI.High}}</td><td class="n">{{num .PAdjusted}}</td></tr>
{{end}}</table>{{else}}<p class="empty">No significant difference.</p>{{end}}
{{end}}{{end}}
</section>
{{end}}

<section id="manifest">
<h2>Run manifest</h2>
{{with .Manifest}}
<table>
<tr><th>valuescope</th><td>{{.Valuescope.Version}} <code>{{.Valuescope.Revision}}</code> {{.Valuescope.Go}}</td></tr>
<tr><th>run</th><td>{{.Run.Name}}: {{.Run.Started.Format "2006-01-02T15:04:05Z07:00"}} – {{.Run.Finished.Format "2006-01-02T15:04:05Z07:00"}}{{with .Invocations}} ({{len .}} invocations){{end}}{{if not .Run.Complete}} (incomplete){{end}}</td></tr>
<tr><th>dataset</th><td>format {{.Dataset.Format}}</td></tr>
</table>
<h3>Dataset files</h3>
<table><tr><th>file</th><th>format</th><th>conversations</th><th>bad records</th><th>bytes</th><th>SHA-256</th></tr>
{{range .Dataset.Files}}<tr><td><code>{{.Path}}</code></td><td>{{.Format}}</td><td class="n">{{.Conversations}}</td><td class="n">{{.BadRecords}}</td><td class="n">{{.Size}}</td><td><code>{{.SHA256}}</code></td></tr>
{{end}}</table>
<h3>Stages and plugins</h3>
<table><tr><th>stage</th><th>plugin</th><th>version</th><th>kind</th><th>plugin SHA-256</th><th>model</th><th>prompt</th><th>config</th></tr>
{{range .Stages}}<tr><td>{{.Name}}</td><td><code>{{.Plugin.Ref}}</code></td><td>{{.Plugin.Manifest.Version}}</td><td>{{.Plugin.Manifest.Kind}}</td><td><code>{{.Plugin.SHA256}}</code></td><td>{{.Model}}</td><td>{{if .PromptFile}}<code>{{.PromptFile}}</code> <code>{{.PromptSHA256}}</code>{{end}}</td><td><code>{{.ConfigJSON}}</code></td></tr>
{{end}}</table>
{{if .Models}}<h3>Models</h3>
<table><tr><th>name</th><th>provider</th><th>model</th></tr>
{{range .Models}}<tr><td>{{.Name}}</td><td>{{.Provider}}</td><td>{{.Model}}</td></tr>{{end}}</table>{{end}}
{{else}}<p class="empty">The run folder has no manifest.json.</p>{{end}}
</section>

<section id="privacy">
<h2>Privacy floor</h2>
<p>Nothing is shown that rests on fewer than <b>{{.Floor.MinConversations}}</b> distinct conversations{{if .Run.UserKey}} or <b>{{.Floor.MinUsers}}</b> distinct users (users from <code>{{.Run.UserKey}}</code>){{else}} (the data names no users, so the users bound does not apply){{end}}.</p>
<table><tr><th>where</th><th>values hidden</th><th>their conversations</th></tr>
{{range .Fields}}<tr><td>{{.Name}}</td><td class="n">{{.Suppressed.Values}}</td><td class="n">{{.Suppressed.Count}}</td></tr>
{{end}}{{range .Contexts}}<tr><td>{{.Name}}</td><td class="n">{{.Suppressed.Values}}</td><td class="n">{{.Suppressed.Count}}</td></tr>
{{end}}<tr><td>taxonomy tree nodes</td><td class="n">{{.Suppressed.TreeNodes}}</td><td></td></tr>
</table>
<h3>Residual tables</h3>
<table><tr><th>table</th><th>rows hidden</th><th>contexts hidden</th><th>non-zero cells hidden</th><th>their count</th><th>significant cells hidden</th></tr>
{{range .Heatmaps}}<tr><td>{{.Table}}</td>{{with .Summary.Suppressed}}<td class="n">{{.Rows}}</td><td class="n">{{.Cols}}</td><td class="n">{{.Cells}}</td><td class="n">{{.Count}}</td><td class="n">{{.Significant}}</td></tr>{{end}}
{{end}}</table>
</section>
</main>
<script type="application/json" id="report-data">{{.JSON}}</script>
</body>
</html>
{{define "node"}}<details{{if .Open}} open{{end}}><summary><b>{{.Name}}</b><span class="sh" style="width:{{printf "%.0f" (mul100 .Share)}}px"></span><span class="c">{{.Conversations}} conversations · {{pct .Share}} of conversations{{if .ReferencePct}} · paper: {{printf "%.2f" (deref .ReferencePct)}}% of value occurrences (another unit){{end}}</span></summary>
{{range .Children}}{{if .Children}}{{template "node" .}}{{else}}<div class="leaf">{{.Name}} <span class="c">{{.Conversations}} · {{pct .Share}}{{if .Matched}} · also: {{join .Matched ", "}}{{end}}</span></div>{{end}}{{end}}{{if .Suppressed}}<div class="leaf c">{{.Suppressed}} under the privacy floor</div>{{end}}{{if .More}}<div class="leaf c">{{.More}} more (see report.json)</div>{{end}}
</details>{{end}}`
