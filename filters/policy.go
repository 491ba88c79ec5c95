package filters

import (
	"sort"
	"strconv"
	"strings"
)

// Policy maps a message's total score to an action, as the thresholds of
// the configuration say.
type Policy struct {
	// Tag, Quarantine and Reject are thresholds: a total at or over one
	// takes its action. A threshold of 0 or less is off.
	Tag, Quarantine, Reject float64
}

// Decision is what the policy says about a score.
type Decision struct {
	Action Action
	Tag    bool
}

// Decide applies the thresholds to a total score.
func (p Policy) Decide(score float64) Decision {
	var d Decision
	if p.Tag > 0 && score >= p.Tag {
		d.Tag = true
	}
	if p.Quarantine > 0 && score >= p.Quarantine {
		d.Action = Quarantine
	}
	if p.Reject > 0 && score >= p.Reject {
		d.Action = Reject
	}
	return d
}

// StatusHeaders renders X-Spam-Status (SpamAssassin's form, so existing
// Sieve and procmail rules keep working) and, at or over the tag threshold,
// X-Spam-Flag: YES.
func (p Policy) StatusHeaders(score float64, tests []Score, allowListed bool) []Field {
	yes := p.Tag > 0 && score >= p.Tag && !allowListed
	status := "No"
	if yes {
		status = "Yes"
	}
	names := FormatTests(tests)
	if allowListed {
		names = "ALLOW_LISTED"
		if t := FormatTests(tests); t != "" {
			names += "," + t
		}
	}
	if names == "" {
		names = "none"
	}
	value := status + ", score=" + FormatPoints(score) + " required=" + FormatPoints(p.Tag) + " tests=" + names
	if d := FormatDetails(tests); d != "" {
		value += " details=" + d
	}
	h := []Field{{Name: "X-Spam-Status", Value: value}}
	if yes {
		h = append(h, Field{Name: "X-Spam-Flag", Value: "YES"})
	}
	return h
}

// FormatPoints renders a score with one decimal, as SpamAssassin does.
func FormatPoints(f float64) string {
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// FormatTests renders tests as NAME=POINTS,NAME=POINTS, sorted by name so
// the header is stable; a test that fired twice is summed.
func FormatTests(tests []Score) string {
	sum := map[string]float64{}
	var names []string
	for _, t := range tests {
		if _, ok := sum[t.Test]; !ok {
			names = append(names, t.Test)
		}
		sum[t.Test] += t.Points
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + FormatPoints(sum[n])
	}
	return strings.Join(parts, ",")
}

// FormatDetails renders the details of the tests that have one as
// NAME[DETAIL],NAME[DETAIL], sorted like the tests; "" when none has.
// SpamAssassin's X-Spam-Status carries further key=value pairs after the
// tests (autolearn=, version=), so readers of the header skip this one.
func FormatDetails(tests []Score) string {
	var parts []string
	for _, t := range tests {
		if t.Detail != "" {
			parts = append(parts, t.Test+"["+t.Detail+"]")
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// TopTests returns the n tests with the most points, strongest first.
func TopTests(tests []Score, n int) []Score {
	t := append([]Score(nil), tests...)
	sort.SliceStable(t, func(i, j int) bool { return t[i].Points > t[j].Points })
	if len(t) > n {
		t = t[:n]
	}
	return t
}
