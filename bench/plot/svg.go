package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"text/template"
)

// Plot geometry, in SVG user units.
const (
	plotW, plotH     = 760.0, 440.0
	marginL, marginR = 70.0, 20.0
	marginT, marginB = 40.0, 60.0
)

// palette holds the colours of successive series.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// Tick is one labelled grid line.
type Tick struct {
	// Pos is the pixel coordinate along the axis.
	Pos float64
	// Label is the text shown.
	Label string
}

// Point is one plotted step.
type Point struct {
	// X and Y are pixel coordinates.
	X, Y float64
	// Title is the tooltip.
	Title string
}

// Series is one server's line.
type Series struct {
	// Label names the server in the legend.
	Label string
	// Color is the stroke colour.
	Color string
	// Path is the polyline's points attribute.
	Path string
	// Points are the markers.
	Points []Point
	// LegendY is the legend row's baseline.
	LegendY float64
}

// Chart is what the SVG template draws.
type Chart struct {
	W, H, L, R, T, B float64
	XTicks, YTicks   []Tick
	Series           []Series
	SLOY             float64
	SLOLabel         string
	Title            string
	// derived positions, so the template needs no functions
	PW, PH, MidX, MidY, LegX1, LegX2, LegTX float64
}

var svgTmpl = template.Must(template.New("svg").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="sans-serif" font-size="12">
<rect width="{{.W}}" height="{{.H}}" fill="white"/>
<text x="{{.L}}" y="22" font-size="15" font-weight="bold">{{.Title}}</text>
{{- range .YTicks}}
<line x1="{{$.L}}" x2="{{$.R}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#e0e0e0"/>
<text x="{{$.L}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.T}}" y2="{{$.B}}" stroke="#e0e0e0"/>
<text x="{{.Pos}}" y="{{$.B}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{- end}}
<rect x="{{.L}}" y="{{.T}}" width="{{.PW}}" height="{{.PH}}" fill="none" stroke="#888"/>
<line x1="{{.L}}" x2="{{.R}}" y1="{{.SLOY}}" y2="{{.SLOY}}" stroke="#555" stroke-dasharray="6 4"/>
<text x="{{.R}}" dx="-4" y="{{.SLOY}}" dy="-5" text-anchor="end" fill="#555">{{.SLOLabel}}</text>
<text x="{{.MidX}}" y="{{.H}}" dy="-14" text-anchor="middle">offered deliveries/s (messages/s × receivers)</text>
<text transform="translate(16 {{.MidY}}) rotate(-90)" text-anchor="middle">p99 latency, ms (log scale)</text>
{{- range .Series}}
<polyline points="{{.Path}}" fill="none" stroke="{{.Color}}" stroke-width="2"/>
{{- $c := .Color}}
{{- range .Points}}
<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="3.5" fill="{{$c}}"><title>{{.Title}}</title></circle>
{{- end}}
<line x1="{{$.LegX1}}" x2="{{$.LegX2}}" y1="{{.LegendY}}" y2="{{.LegendY}}" stroke="{{.Color}}" stroke-width="2"/>
<text x="{{$.LegTX}}" y="{{.LegendY}}" dy="4">{{.Label}}</text>
{{- end}}
</svg>
`))

// WriteSVG draws p99 latency (log scale) against offered deliveries/s for
// every server with a sweep.
func WriteSVG(w io.Writer, list []*Server) error {
	maxX, minY, maxY := 0.0, math.Inf(1), 0.0
	for _, s := range list {
		if s.Sweep == nil {
			continue
		}
		for _, st := range s.Sweep.Steps {
			maxX = max(maxX, float64(st.Offered))
			if st.Latency.P99 > 0 {
				minY = min(minY, st.Latency.P99)
				maxY = max(maxY, st.Latency.P99)
			}
		}
	}
	if maxX == 0 {
		return fmt.Errorf("no sweep results to plot")
	}
	minY = math.Min(minY, SLO)
	maxY = math.Max(maxY, SLO)
	lo := math.Pow(10, math.Floor(math.Log10(minY)))
	hi := math.Pow(10, math.Ceil(math.Log10(maxY)))
	if hi <= lo {
		hi = lo * 10
	}
	xMax := niceCeil(maxX)
	c := Chart{W: plotW, H: plotH, L: marginL, R: plotW - marginR, T: marginT, B: plotH - marginB,
		Title: "p99 delivery latency vs offered rate (server pinned to one core)"}
	c.PW, c.PH = c.R-c.L, c.B-c.T
	c.MidX, c.MidY = (c.L+c.R)/2, (c.T+c.B)/2
	c.LegX1, c.LegX2, c.LegTX = c.L+14, c.L+38, c.L+44
	xOf := func(v float64) float64 { return c.L + v/xMax*(c.R-c.L) }
	yOf := func(ms float64) float64 {
		ms = math.Max(ms, lo)
		return c.B - (math.Log10(ms)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*(c.B-c.T)
	}
	for i := 0; i <= 5; i++ {
		v := xMax * float64(i) / 5
		c.XTicks = append(c.XTicks, Tick{Pos: round1(xOf(v)), Label: kLabel(v)})
	}
	for d := lo; d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= hi*1.0001 && (m == 1 || hi/lo <= 1000) {
				c.YTicks = append(c.YTicks, Tick{Pos: round1(yOf(v)), Label: msLabel(v)})
			}
		}
	}
	c.SLOY = round1(yOf(SLO))
	c.SLOLabel = fmt.Sprintf("p99 = %.0f ms", SLO)
	for i, s := range list {
		if s.Sweep == nil {
			continue
		}
		se := Series{Label: html.EscapeString(s.Label), Color: palette[i%len(palette)], LegendY: c.T + 18 + 18*float64(len(c.Series))}
		var pts []string
		for _, st := range s.Sweep.Steps {
			p := Point{X: xOf(float64(st.Offered)), Y: yOf(st.Latency.P99),
				Title: html.EscapeString(fmt.Sprintf("%s: offered %d/s, achieved %.0f/s, p99 %.1f ms, lost %d", s.Name, st.Offered, st.Achieved, st.Latency.P99, st.Lost))}
			se.Points = append(se.Points, p)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		}
		se.Path = strings.Join(pts, " ")
		c.Series = append(c.Series, se)
	}
	return svgTmpl.Execute(w, c)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func kLabel(v float64) string {
	if v >= 1000 {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1000), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func msLabel(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(fmt.Sprintf("%.3f", v), "0")
}
