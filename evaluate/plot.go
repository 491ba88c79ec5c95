package evaluate

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// Plot geometry, in SVG user units.
const (
	plotW, plotH                       = 760, 560
	marginL, marginR, marginT, marginB = 90, 30, 60, 80
)

// Plot writes the ROC curve of r as an SVG image: spam recall against the
// false-positive rate on a log scale, since the operating region of a spam
// filter is the first 0.1% of ham, which a linear axis squeezes into its
// corner. Ham scored above every spam sits on the left edge.
func Plot(w io.Writer, r *Report) error {
	pts := Curve(r.Scores)
	// Decades down to one ham in the set, at least 0.01%.
	decades := 4
	if r.Ham > 0 {
		decades = max(decades, int(math.Ceil(math.Log10(float64(r.Ham)))))
	}
	xmin := math.Pow(10, -float64(decades))
	iw, ih := float64(plotW-marginL-marginR), float64(plotH-marginT-marginB)
	px := func(fpr float64) float64 {
		if fpr < xmin {
			fpr = xmin
		}
		return marginL + (math.Log10(fpr)+float64(decades))/float64(decades)*iw
	}
	py := func(tpr float64) float64 { return marginT + (1-tpr)*ih }

	b := bufio.NewWriter(w)
	text := func(x, y float64, anchor, extra, s string) {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s"%s>`, x, y, anchor, extra)
		xml.EscapeText(b, []byte(s))
		b.WriteString("</text>\n")
	}
	fmt.Fprintf(b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">
<rect width="100%%" height="100%%" fill="white"/>
`, plotW, plotH, plotW, plotH)
	text(plotW/2, 26, "middle", ` font-size="16" font-weight="bold"`,
		fmt.Sprintf("ROC, %d-fold cross-validation: %d spam, %d ham", r.Folds, r.Spam, r.Ham))
	text(plotW/2, 46, "middle", "",
		fmt.Sprintf("(1-ROCA)%% = %.4f, spam recall at 0.1%% FPR = %.2f%%", r.OneMinusROCAPct, r.RecallAt01Pct))

	// Grid and ticks.
	b.WriteString(`<g stroke="#ddd" stroke-width="1">` + "\n")
	for d := 0; d <= decades; d++ {
		x := marginL + float64(d)/float64(decades)*iw
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", x, marginT, x, plotH-marginB)
	}
	for i := 0; i <= 10; i++ {
		y := py(float64(i) / 10)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`+"\n", marginL, y, plotW-marginR, y)
	}
	b.WriteString("</g>\n")
	for d := 0; d <= decades; d++ {
		x := marginL + float64(d)/float64(decades)*iw
		text(x, plotH-marginB+18, "middle", "", percent(math.Pow(10, float64(d-decades))))
	}
	for i := 0; i <= 10; i += 2 {
		text(marginL-8, py(float64(i)/10)+4, "end", "", fmt.Sprintf("%d%%", i*10))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="black"/>`+"\n", marginL, marginT, iw, ih)
	text(marginL+iw/2, plotH-24, "middle", "", "False-positive rate: ham marked spam (log scale)")
	text(22, marginT+ih/2, "middle", fmt.Sprintf(` transform="rotate(-90 22 %.1f)"`, marginT+ih/2), "Spam recall: spam marked spam")

	// Chance, for scale: recall equal to the false-positive rate.
	var chance strings.Builder
	for i := 0; i <= 100; i++ {
		f := math.Pow(10, -float64(decades)*(1-float64(i)/100))
		fmt.Fprintf(&chance, "%s%.1f,%.1f ", map[bool]string{true: "M", false: "L"}[i == 0], px(f), py(f))
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="#999" stroke-dasharray="4 4"/>`+"\n", strings.TrimSpace(chance.String()))

	// The curve, as steps: a tie of ham and spam is a diagonal.
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.2f,%.2f ", cmd, px(p.FPR), py(p.TPR))
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="#c0392b" stroke-width="2"/>`+"\n", strings.TrimSpace(path.String()))

	// The configured spam band's operating point.
	if r.Ham > 0 && r.Spam > 0 {
		fpr := r.FPRPct / 100
		tpr := 1 - (r.FNRPct+r.UnsureSpamPct)/100
		x, y := px(fpr), py(tpr)
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="5" fill="none" stroke="#2c3e50" stroke-width="2"/>`+"\n", x, y)
		anchor, tx := "start", x+8
		if x > plotW/2 {
			anchor, tx = "end", x-8
		}
		text(tx, y+18, anchor, ` fill="#2c3e50"`, fmt.Sprintf("spam_cutoff %g: FPR %.3f%%, recall %.2f%%", r.SpamCutoff, r.FPRPct, 100*tpr))
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

// percent labels a fraction: 0.001 -> "0.1%".
func percent(f float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%g", f*100), ".0") + "%"
}
