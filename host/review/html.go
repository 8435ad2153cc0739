package review

import (
	"html/template"

	"github.com/valuescope/valuescope/host/conversation"
)

type htmlPage struct {
	Run           string
	Stratify      string
	Strata        []Stratum
	Lines         int
	Conversations []htmlConv
}

type htmlConv struct {
	ID, Source, Stratum string
	Meta                [][2]string
	Turns               []conversation.Turn
	Lines               []Line
}

var pageTemplate = template.Must(template.New("review").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>valuescope review — {{.Run}}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f4; }
header { padding: 1em 2em; background: #fff; border-bottom: 1px solid #ddd; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.conv { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.5em; margin: 1.5em 2em; padding: 1em 1.5em; background: #fff; border: 1px solid #ddd; border-radius: 6px; }
.conv h2 { grid-column: 1 / -1; font-size: 1.05em; margin: 0; }
.meta { color: #666; font-size: .85em; font-weight: normal; }
.turn { margin: 0 0 .8em; padding: .5em .8em; border-radius: 5px; white-space: pre-wrap; overflow-wrap: anywhere; }
.turn .role { display: block; font-size: .75em; text-transform: uppercase; letter-spacing: .05em; color: #666; margin-bottom: .2em; }
.user { background: #eef3fb; } .assistant { background: #f3f1ea; } .system, .tool { background: #f0f0f0; }
.missing { color: #a00; }
.ann { position: sticky; top: 1em; align-self: start; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; vertical-align: top; padding: .3em .4em; border-bottom: 1px solid #eee; }
td.row { color: #888; font-variant-numeric: tabular-nums; }
td.ev { color: #555; font-style: italic; }
</style>
</head>
<body>
<header>
<h1>Review sheet — {{.Run}}</h1>
<div>{{len .Conversations}} conversations, {{.Lines}} lines to judge{{if .Stratify}}, stratified by <b>{{.Stratify}}</b>{{end}}.
Judge each line in the CSV's <code>judgement</code> column (yes/no), by its row number; then run <code>valuescope review score</code>.</div>
<div class="meta">{{range .Strata}}{{.Name}}: {{.Sampled}} of {{.Population}}. {{end}}</div>
</header>
{{range .Conversations}}
<section class="conv" id="{{.ID}}">
<h2>{{.ID}} <span class="meta">{{.Source}}{{if .Stratum}} · stratum {{.Stratum}}{{end}}{{range .Meta}} · {{index . 0}}: {{index . 1}}{{end}}</span></h2>
<div class="turns">
{{range .Turns}}<div class="turn {{.Role}}"><span class="role">{{.Role}}</span>{{.Content}}</div>
{{else}}<p class="missing">The conversation's text was not found in the run's dataset.</p>
{{end}}
</div>
<div class="ann">
<table>
<tr><th>row</th><th>field</th><th>value</th><th>evidence</th></tr>
{{range .Lines}}<tr><td class="row">{{.Row}}</td><td>{{.Field}}</td><td><b>{{.Value}}</b></td><td class="ev">{{.Evidence}}</td></tr>
{{end}}
</table>
</div>
</section>
{{end}}
</body>
</html>
`))
