package render

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/tollgate/tollgate"
)

// palette colours the chart's series; "other" is always grey.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
	"#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#a0cbe8"}

// Chart geometry (SVG user units).
const (
	chartW, chartH         = 960, 320
	chartLeft, chartBottom = 70, 40
	chartTop, chartRight   = 20, 160
)

type svgRect struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Label          string
	Color          string
}

type svgText struct {
	X, Y   float64
	Text   string
	Anchor string
}

type svgLegend struct {
	X, Y  float64
	Color string
	Key   string
}

type htmlChart struct {
	W, H    int
	Rects   []svgRect
	Budgets []svgLine
	Axis    []svgText
	Ticks   []svgLine
	Legend  []svgLegend
	Base    float64
	BaseX1  float64
	BaseX2  float64
	Empty   bool
}

type htmlPage struct {
	R        tollgate.Report
	Range    string
	Total    string
	Chart    htmlChart
	UntrUSD  string
	Estimate bool
}

// buildChart draws cumulative spend per day, stacked by the report's series, with a
// dashed line per budget.
func buildChart(r tollgate.Report) htmlChart {
	ch := htmlChart{W: chartW, H: chartH, Base: chartH - chartBottom, BaseX1: chartLeft, BaseX2: chartW - chartRight}
	if len(r.Days) == 0 {
		ch.Empty = true
		return ch
	}
	totals := map[string]float64{}
	for _, d := range r.Days {
		for k, v := range d.Spend {
			totals[k] += v
		}
	}
	keys := slices.Sorted(maps.Keys(totals))
	sort.SliceStable(keys, func(i, j int) bool {
		if (keys[i] == tollgate.DayOther) != (keys[j] == tollgate.DayOther) {
			return keys[j] == tollgate.DayOther
		}
		return totals[keys[i]] > totals[keys[j]]
	})
	color := map[string]string{}
	for i, k := range keys {
		color[k] = palette[i%len(palette)]
		if k == tollgate.DayOther {
			color[k] = "#bab0ac"
		}
	}
	cum := map[string]float64{}
	stackMax := 0.0
	stacks := make([][]float64, len(r.Days))
	for i, d := range r.Days {
		stacks[i] = make([]float64, len(keys))
		sum := 0.0
		for j, k := range keys {
			cum[k] += d.Spend[k]
			stacks[i][j] = cum[k]
			sum += cum[k]
		}
		stackMax = max(stackMax, sum)
	}
	top := stackMax
	for _, b := range r.Budgets {
		top = max(top, b.BudgetUSD)
	}
	if top <= 0 {
		top = 1
	}
	top = niceCeil(top)
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	y := func(v float64) float64 { return chartTop + plotH*(1-v/top) }
	barW := plotW / float64(len(r.Days))
	for i, d := range r.Days {
		x := chartLeft + float64(i)*barW
		base := 0.0
		for j, k := range keys {
			v := stacks[i][j]
			if v <= 0 {
				continue
			}
			ch.Rects = append(ch.Rects, svgRect{X: x + barW*0.1, Y: y(base + v), W: barW * 0.8,
				H: y(base) - y(base+v), Fill: color[k], Title: fmt.Sprintf("%s %s: $%.2f to date", d.Day, k, v)})
			base += v
		}
		if len(r.Days) <= 31 || i%(len(r.Days)/15+1) == 0 {
			ch.Axis = append(ch.Axis, svgText{X: x + barW/2, Y: chartH - chartBottom + 16, Text: d.Day[5:], Anchor: "middle"})
		}
	}
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		ch.Ticks = append(ch.Ticks, svgLine{X1: chartLeft, Y1: y(v), X2: chartLeft + plotW, Y2: y(v), Label: fmt.Sprintf("$%.0f", v)})
	}
	for _, b := range r.Budgets {
		c := color[b.Key]
		if c == "" {
			c = "#333333"
		}
		ch.Budgets = append(ch.Budgets, svgLine{X1: chartLeft, Y1: y(b.BudgetUSD), X2: chartLeft + plotW, Y2: y(b.BudgetUSD),
			Label: fmt.Sprintf("budget %s $%.2f", b.Key, b.BudgetUSD), Color: c})
	}
	for i, k := range keys {
		ch.Legend = append(ch.Legend, svgLegend{X: chartW - chartRight + 20, Y: chartTop + float64(i)*18, Color: color[k], Key: k})
	}
	return ch
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func renderHTML(w io.Writer, r tollgate.Report) error {
	page := htmlPage{R: r, Range: dateRange(r), Total: usd4(r.TotalUSD), Chart: buildChart(r)}
	sum := 0.0
	for _, ic := range r.Untracked {
		sum += ic.CostUSD
	}
	page.UntrUSD = usd4(sum)
	return htmlTmpl().Execute(w, page)
}

// htmlTmpl is parsed on first use: the CLI links this package for every command, and
// parsing at init would cost each `tollgate ls` a quarter of a millisecond.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"usd":   usd4,
		"hours": hours,
		"f":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"flags": flags,
		"when": func(ic tollgate.InstanceCost) string {
			return ic.LaunchedAt.UTC().Format("2006-01-02 15:04")
		},
		"add": func(a, b float64) float64 { return a + b },
	}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tollgate spend {{.Range}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #222; }
.warn { color: #a33; }
svg text { font-size: 11px; fill: #444; }
</style>
</head>
<body>
<h1>tollgate spend by {{.R.By}}</h1>
<p>{{.Range}}{{if not .R.AsOf.IsZero}}; last snapshot {{.R.AsOf.UTC.Format "2006-01-02 15:04"}} UTC{{end}}.
Total <strong>$<span id="total">{{.Total}}</span></strong>.</p>
{{if .R.Unpriced}}<p class="warn">Unpriced instance types (cost unknown, not zero): {{range $i, $t := .R.Unpriced}}{{if $i}}, {{end}}{{$t}}{{end}}.</p>{{end}}

<h2>Cumulative spend per day</h2>
{{with .Chart}}{{if .Empty}}<p>No spend in this period.</p>{{else}}
<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="cumulative spend per day">
{{range .Ticks}}<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}" stroke="#eee"/><text x="{{f (add .X1 -6)}}" y="{{f (add .Y1 4)}}" text-anchor="end">{{.Label}}</text>
{{end}}{{range .Rects}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Budgets}}<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}" stroke="{{.Color}}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="{{f (add .X2 4)}}" y="{{f (add .Y1 4)}}">{{.Label}}</text>
{{end}}<line x1="{{f .BaseX1}}" y1="{{f .Base}}" x2="{{f .BaseX2}}" y2="{{f .Base}}" stroke="#444"/>
{{range .Axis}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}{{range .Legend}}<rect x="{{f .X}}" y="{{f .Y}}" width="12" height="12" fill="{{.Color}}"/><text x="{{f (add .X 18)}}" y="{{f (add .Y 10)}}">{{.Key}}</text>
{{end}}</svg>{{end}}{{end}}

<h2>By {{.R.By}}</h2>
<table id="rows">
<tr><th>{{.R.By}}</th><th class="n">instances</th><th class="n">running hours</th><th class="n">cost USD</th></tr>
{{range .R.Rows}}<tr><td>{{.Key}}</td><td class="n">{{.Instances}}</td><td class="n">{{hours .RunningSeconds}}</td><td class="n">{{usd .CostUSD}}</td></tr>
{{end}}<tr class="total"><td>TOTAL</td><td class="n">{{len .R.Instances}} + {{len .R.Untracked}} untracked</td><td></td><td class="n">{{.Total}}</td></tr>
</table>

{{if .R.Budgets}}<h2>Budgets</h2>
<table>
<tr><th>user</th><th class="n">budget USD</th></tr>
{{range .R.Budgets}}<tr><td>{{.Key}}</td><td class="n">{{usd .BudgetUSD}}</td></tr>
{{end}}</table>{{end}}

<h2>Untracked instances</h2>
{{if .R.Untracked}}<p>{{len .R.Untracked}} instance(s) launched outside tollgate cost ${{.UntrUSD}} in this period.</p>
<table id="untracked">
<tr><th>id</th><th>region</th><th>type</th><th>state</th><th>launched</th><th class="n">running hours</th><th class="n">cost USD</th><th></th></tr>
{{range .R.Untracked}}<tr><td>{{.ID}}</td><td>{{.Region}}</td><td>{{.Type}}</td><td>{{.State}}</td><td>{{when .}}</td><td class="n">{{hours .RunningSeconds}}</td><td class="n">{{usd .CostUSD}}</td><td>{{flags .}}</td></tr>
{{end}}</table>{{else}}<p>None: every instance seen was launched through tollgate.</p>{{end}}

<h2>Instances</h2>
<table id="instances">
<tr><th>id</th><th>owner</th><th>region</th><th>type</th><th>state</th><th>launched</th><th class="n">running hours</th><th class="n">cost USD</th><th></th></tr>
{{range .R.Instances}}<tr><td>{{.ID}}</td><td>{{.Owner}}</td><td>{{.Region}}</td><td>{{.Type}}{{if .Spot}} (spot){{end}}</td><td>{{.State}}</td><td>{{when .}}</td><td class="n">{{hours .RunningSeconds}}</td><td class="n">{{usd .CostUSD}}</td><td>{{flags .}}</td></tr>
{{end}}</table>
</body>
</html>
`))
})
