package web

import (
	"fmt"
	"net/http"
	"time"

	"mailguard/quarantine"
)

// statsDays is how many days the daily chart covers.
const statsDays = 14

// kinds are the chart's series, in stacking order.
var kinds = []string{quarantine.EventHeld, quarantine.EventReleased, quarantine.EventSpam, quarantine.EventDeleted, quarantine.EventExpired}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type label struct {
	X, Y   float64
	Text   string
	Anchor string
	// Minor labels are left out on narrow screens.
	Minor bool
}

type chart struct {
	W, H   float64
	Bars   []bar
	Labels []label
	Grid   []label // horizontal lines at Y with their value
	Max    int
}

type legend struct {
	Class, Name string
	Total       int
}

type statsData struct {
	page
	Days      chart
	Hist      chart
	Legend    []legend
	Held      int
	Pending   int
	Learnt    bool
	Spam, Ham uint64
	Scope     string
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now().UTC()
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(statsDays - 1))
	entries, err := s.visible(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := statsData{page: s.pageFor(r, "Statistics", "stats"), Held: len(entries)}
	for _, e := range entries {
		if e.Release != nil {
			d.Pending++
		}
	}
	var events []quarantine.Event
	j, ok := s.cfg.Store.(quarantine.Journal)
	if ok && len(current(r).user.Addresses) == 0 {
		d.Scope = "everything held, released and deleted"
		if events, err = j.Events(r.Context(), start); err != nil {
			s.cfg.Log.Warn("web: reading the journal", "err", err)
		}
	} else {
		// A recipient sees only their messages held now.
		d.Scope = "your messages held now"
		for _, e := range entries {
			events = append(events, quarantine.Event{Time: e.Time, ID: e.ID, Kind: quarantine.EventHeld, Score: e.Score})
		}
	}
	// Messages per kind per day.
	counts := make([]map[string]int, statsDays)
	for i := range counts {
		counts[i] = map[string]int{}
	}
	totals := map[string]int{}
	var scores []float64
	for _, ev := range events {
		day := int(ev.Time.UTC().Sub(start) / (24 * time.Hour))
		if day < 0 || day >= statsDays {
			continue
		}
		counts[day][ev.Kind]++
		totals[ev.Kind]++
		if ev.Kind == quarantine.EventHeld {
			scores = append(scores, ev.Score)
		}
	}
	for _, k := range kinds {
		d.Legend = append(d.Legend, legend{Class: "k-" + k, Name: k, Total: totals[k]})
	}
	d.Days = dayChart(start, counts)
	d.Hist = histogram(scores)
	if s.cfg.Tokens != nil {
		if ts, err := s.cfg.Tokens(); err == nil {
			if t, err := ts.Totals(r.Context()); err == nil {
				d.Learnt, d.Spam, d.Ham = true, t.Spam, t.Ham
			}
		}
	}
	s.render(w, r, http.StatusOK, "stats", d)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 640.0, 300.0
	padL, padB     = 40.0, 30.0
	padT           = 18.0
	padR           = 16.0
)

// gridLines is how many steps the value axis has.
const gridLines = 4

// niceMax rounds the tallest bar up to gridLines steps of 1, 2 or 5 times
// a power of ten, so every grid line has a round value.
func niceMax(n int) int {
	for step := 1; ; step *= 10 {
		for _, m := range []int{1, 2, 5} {
			if gridLines*m*step >= n {
				return gridLines * m * step
			}
		}
	}
}

func grid(c *chart) {
	for i := 0; i <= gridLines; i++ {
		v := c.Max * i / gridLines
		y := padT + (chartH-padT-padB)*(1-float64(v)/float64(c.Max))
		c.Grid = append(c.Grid, label{X: padL, Y: y, Text: fmt.Sprint(v), Anchor: "end"})
	}
}

// dayChart draws a group of bars a day, one a kind: a message is counted
// once held and again when reviewed, so stacking would add up to more
// messages than there were.
func dayChart(start time.Time, counts []map[string]int) chart {
	c := chart{W: chartW, H: chartH}
	top := 0
	for _, m := range counts {
		for _, k := range kinds {
			top = max(top, m[k])
		}
	}
	c.Max = niceMax(max(1, top))
	grid(&c)
	plotH := chartH - padT - padB
	slot := (chartW - padL - padR) / float64(len(counts))
	bw := slot * 0.8 / float64(len(kinds))
	for i, m := range counts {
		x0 := padL + float64(i)*slot + slot*0.1
		day := start.AddDate(0, 0, i)
		for j, k := range kinds {
			if m[k] == 0 {
				continue
			}
			h := plotH * float64(m[k]) / float64(c.Max)
			c.Bars = append(c.Bars, bar{X: x0 + float64(j)*bw, Y: chartH - padB - h, W: bw * 0.9, H: h, Class: "k-" + k, Title: fmt.Sprintf("%s: %d %s", day.Format("Jan 2"), m[k], k)})
		}
		if i%2 == (len(counts)-1)%2 {
			c.Labels = append(c.Labels, label{X: x0 + slot*0.4, Y: chartH - padB + 18, Text: day.Format("Jan 2"), Anchor: "middle", Minor: i%4 != (len(counts)-1)%4})
		}
	}
	return c
}

// histBins are the score histogram's bins: width 5 up to 50, then one
// for the rest (GTUBE scores 1000).
const histBins = 11

func histogram(scores []float64) chart {
	c := chart{W: chartW, H: chartH}
	n := make([]int, histBins)
	for _, sc := range scores {
		b := int(sc / 5)
		b = min(max(b, 0), histBins-1)
		n[b]++
	}
	c.Max = niceMax(max(1, maxOf(n)))
	grid(&c)
	plotH := chartH - padT - padB
	slot := (chartW - padL - padR) / histBins
	for i, v := range n {
		name := fmt.Sprintf("%d–%d", i*5, i*5+5)
		if i == histBins-1 {
			name = fmt.Sprintf("≥%d", i*5)
		}
		x := padL + float64(i)*slot + slot*0.1
		h := plotH * float64(v) / float64(c.Max)
		if v > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: chartH - padB - h, W: slot * 0.8, H: h, Class: "k-score", Title: fmt.Sprintf("score %s: %d", name, v)})
		}
		c.Labels = append(c.Labels, label{X: x + slot*0.4, Y: chartH - padB + 18, Text: name, Anchor: "middle", Minor: i%2 == 1})
	}
	return c
}

func maxOf(n []int) int {
	m := 0
	for _, v := range n {
		m = max(m, v)
	}
	return m
}
