package benchkit

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// brokerColors colour the bars by broker; others cycle through extra.
var brokerColors = map[string]string{"kafka": "#1f77b4", "amqp": "#ff7f0e", "nats": "#2ca02c", "mem": "#9467bd"}

var extraColors = []string{"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// WriteSVG draws the throughput ratios (end-to-end and publish; the
// allocation ratios stay in the tables) as a horizontal bar chart: one
// group per ratio, one bar per broker and size, with lines at 1x and at
// 0.9x (the targets). It is plain SVG 1.1, no scripts or fonts to load.
func (rep *Report) WriteSVG(w io.Writer) error {
	var ratios []Ratio
	for _, r := range rep.Ratios {
		if r.Metric == MetricE2E || r.Metric == MetricPublish || r.Metric == "" {
			ratios = append(ratios, r)
		}
	}
	const (
		width  = 860
		left   = 250 // label column
		right  = 70  // room for value labels
		top    = 40
		rowH   = 18
		groupH = 24
		bottom = 40
	)
	scaleMax := 1.2
	for _, r := range ratios {
		scaleMax = math.Max(scaleMax, r.Value*1.05)
	}
	scaleMax = math.Ceil(scaleMax*5) / 5
	plotW := float64(width - left - right)
	x := func(v float64) float64 { return left + v/scaleMax*plotW }

	// Group rows by label, in the order of first appearance.
	var labels []string
	groups := map[string][]Ratio{}
	for _, r := range ratios {
		if _, ok := groups[r.Label]; !ok {
			labels = append(labels, r.Label)
		}
		groups[r.Label] = append(groups[r.Label], r)
	}
	height := top + bottom
	for _, l := range labels {
		height += groupH + rowH*len(groups[l])
	}
	if len(labels) == 0 {
		height += rowH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Herald / native and Herald / Watermill, end-to-end msg/s (median ratios, %s)</text>`+"\n",
		10, html.EscapeString(rep.Date.UTC().Format("2006-01-02")))
	if len(labels) == 0 {
		fmt.Fprintf(&b, `<text x="10" y="%d">no ratios: a case of each pair is missing or failed</text>`+"\n", top+14)
	}
	// Grid: ticks every 0.2x, solid at 1x, dashed at 0.9x.
	plotBottom := height - bottom
	for v := 0.0; v <= scaleMax+1e-9; v += 0.2 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x(v), top, x(v), plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.1fx</text>`+"\n", x(v), plotBottom+16, v)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-width="1.5"/>`+"\n", x(1), top, x(1), plotBottom)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-dasharray="4 3"/>`+"\n", x(0.9), top, x(0.9), plotBottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" fill="#c00">target 0.9x</text>`+"\n", x(0.9)-3, plotBottom+30)

	y := top
	extra := 0
	colors := map[string]string{}
	color := func(broker string) string {
		if c, ok := brokerColors[broker]; ok {
			return c
		}
		if c, ok := colors[broker]; ok {
			return c
		}
		c := extraColors[extra%len(extraColors)]
		extra++
		colors[broker] = c
		return c
	}
	for _, l := range labels {
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+16, html.EscapeString(l))
		y += groupH
		for _, r := range groups[l] {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s, %s</text>`+"\n", left-8, y+13, html.EscapeString(r.Broker), html.EscapeString(fmtSize(r.Size)))
			wBar := math.Max(0, x(r.Value)-left)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				left, y+3, wBar, rowH-5, color(r.Broker), html.EscapeString(fmt.Sprintf("%s, %s, %s: %s", r.Label, r.Broker, fmtSize(r.Size), fmtRatio(r.Value))))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", left+wBar+4, y+13, fmtRatio(r.Value))
			y += rowH
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
