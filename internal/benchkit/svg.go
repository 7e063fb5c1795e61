package benchkit

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// brokerColors colour the bars by broker; others cycle through extraColors.
var brokerColors = map[string]string{"kafka": "#1f77b4", "amqp": "#ff7f0e", "nats": "#2ca02c", "mem": "#9467bd"}

var extraColors = []string{"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// bar is one bar of a chart.
type bar struct {
	label, text, color, title string
	value                     float64
}

// barGroup is a titled group of bars.
type barGroup struct {
	title string
	bars  []bar
}

// refLine is a vertical reference line.
type refLine struct {
	at           float64
	label, color string
	dashed       bool
}

// WriteSVG draws the throughput ratios of Herald to the native clients and
// to Watermill (end-to-end and publish; the allocation, RSS and speed-up
// ratios stay in the tables) as a horizontal bar chart: one
// group per ratio, one bar per broker and size, with lines at 1x and at
// 0.9x (the targets). It is plain SVG 1.1, no scripts or fonts to load.
func (rep *Report) WriteSVG(w io.Writer) error {
	var groups []barGroup
	index := map[string]int{}
	for _, r := range rep.Ratios {
		if r.Metric != MetricE2E && r.Metric != MetricPublish && r.Metric != "" {
			continue
		}
		if r.Den != NameNative && r.Den != NameNativeSync16 && r.Den != NameWatermill {
			continue // e.g. the keyed speed-up: not a comparison with another client
		}
		i, ok := index[r.Label]
		if !ok {
			i = len(groups)
			index[r.Label] = i
			groups = append(groups, barGroup{title: r.Label})
		}
		groups[i].bars = append(groups[i].bars, bar{
			label: r.Broker + ", " + fmtSize(r.Size), value: r.Value, text: fmtRatio(r.Value), color: brokerColor(r.Broker),
			title: fmt.Sprintf("%s, %s, %s: %s", r.Label, r.Broker, fmtSize(r.Size), fmtRatio(r.Value)),
		})
	}
	title := fmt.Sprintf("Herald / native and Herald / Watermill, median ratios (log scale), %s", rep.Date.UTC().Format("2006-01-02"))
	return writeBars(w, title, groups, logAxis(groups), func(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%gx", v), ".0x") },
		[]refLine{{at: 1, label: "", color: "#000"}, {at: 0.9, label: "target 0.9x", color: "#c00", dashed: true}},
		"no ratios: a case of each pair is missing or failed")
}

// WriteRatesSVG draws every result's median end-to-end msg/s as a bar
// chart, one group per broker and size (for runs without ratios, such as
// `herald bench`).
func (rep *Report) WriteRatesSVG(w io.Writer) error {
	var groups []barGroup
	for _, b := range rep.Brokers() {
		for _, size := range rep.Sizes {
			g := barGroup{title: fmt.Sprintf("%s, %s", b, fmtSize(size))}
			for _, r := range rep.Results {
				if r.Broker != b || r.Size != size || len(r.Samples) == 0 {
					continue
				}
				v := r.Summary.E2ERate.Median
				g.bars = append(g.bars, bar{label: r.Case, value: v, text: fmtRate(v) + " msg/s", color: brokerColor(b),
					title: fmt.Sprintf("%s %s %s: end-to-end %s msg/s (%s..%s)", b, fmtSize(size), r.Case, fmtRate(v),
						fmtRate(r.Summary.E2ERate.Min), fmtRate(r.Summary.E2ERate.Max))})
			}
			if len(g.bars) > 0 {
				groups = append(groups, g)
			}
		}
	}
	title := fmt.Sprintf("End-to-end msg/s, medians over %d round(s), %s", rep.Rounds, rep.Date.UTC().Format("2006-01-02"))
	return writeBars(w, title, groups, linearAxis(groups), fmtRate, nil, "no results")
}

func brokerColor(b string) string {
	if c, ok := brokerColors[b]; ok {
		return c
	}
	var h uint32
	for _, c := range b {
		h = h*31 + uint32(c)
	}
	return extraColors[h%uint32(len(extraColors))]
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten that
// cuts max into about five.
func niceStep(max float64) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// axis maps values to [0, 1] of the plot width; bars start at origin.
type axis struct {
	pos    func(v float64) float64
	ticks  []float64
	origin float64
}

func maxValue(groups []barGroup) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, g := range groups {
		for _, b := range g.bars {
			if b.value > 0 {
				lo = math.Min(lo, b.value)
			}
			hi = math.Max(hi, b.value)
		}
	}
	return lo, hi
}

// linearAxis runs from 0 to a round number above the largest bar.
func linearAxis(groups []barGroup) axis {
	_, hi := maxValue(groups)
	if hi <= 0 {
		hi = 1
	}
	step := niceStep(hi * 1.05)
	top := math.Ceil(hi*1.05/step) * step
	var ticks []float64
	for i := 0; float64(i)*step <= top+step/1e6; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return axis{pos: func(v float64) float64 { return v / top }, ticks: ticks}
}

// logAxis covers whole decades around the bars and 1x, with ticks at 1, 2
// and 5 times each power of ten; bars grow from 1x to the left (below)
// or to the right (above).
func logAxis(groups []barGroup) axis {
	lo, hi := maxValue(groups)
	lo, hi = math.Min(lo, 0.5), math.Max(hi, 2)
	lo = math.Max(lo, 1e-3)
	// Leave room left of the smallest bar for its value label.
	dlo, dhi := math.Floor(math.Log10(lo)-0.3), math.Ceil(math.Log10(hi))
	var ticks []float64
	for d := dlo; d <= dhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, d); v <= math.Pow(10, dhi)*1.0001 {
				ticks = append(ticks, v)
			}
		}
	}
	return axis{
		pos: func(v float64) float64 {
			v = math.Max(v, math.Pow(10, dlo))
			return (math.Log10(v) - dlo) / (dhi - dlo)
		},
		ticks:  ticks,
		origin: 1,
	}
}

// writeBars draws groups of horizontal bars on ax, with ticks labelled by
// tick and the reference lines.
func writeBars(w io.Writer, title string, groups []barGroup, ax axis, tick func(float64) string, refs []refLine, empty string) error {
	const (
		width  = 860
		left   = 250 // label column
		right  = 110 // room for value labels
		top    = 40
		rowH   = 18
		groupH = 24
		bottom = 40
	)
	plotW := float64(width - left - right)
	x := func(v float64) float64 { return left + ax.pos(v)*plotW }
	height := top + bottom
	for _, g := range groups {
		height += groupH + rowH*len(g.bars)
	}
	if len(groups) == 0 {
		height += rowH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	if len(groups) == 0 {
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", top+14, html.EscapeString(empty))
	}
	plotBottom := height - bottom
	for _, v := range ax.ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x(v), top, x(v), plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(v), plotBottom+16, html.EscapeString(tick(v)))
	}
	for _, r := range refs {
		dash := ""
		if r.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.5"%s/>`+"\n", x(r.at), top, x(r.at), plotBottom, r.color, dash)
		if r.label != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" fill="%s">%s</text>`+"\n", x(r.at)-3, plotBottom+30, r.color, html.EscapeString(r.label))
		}
	}
	y := top
	for _, g := range groups {
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+16, html.EscapeString(g.title))
		y += groupH
		for _, br := range g.bars {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+13, html.EscapeString(br.label))
			x0, x1 := x(ax.origin), x(br.value)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				math.Min(x0, x1), y+3, math.Abs(x1-x0), rowH-5, br.color, html.EscapeString(br.title))
			if x1 >= x0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", x1+4, y+13, html.EscapeString(br.text))
			} else {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end">%s</text>`+"\n", x1-4, y+13, html.EscapeString(br.text))
			}
			y += rowH
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
