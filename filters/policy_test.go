package filters

import (
	"math"
	"testing"
)

func TestFormatPoints(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "0.0"},
		{-0.001, "0.0"},
		{-0.04, "0.0"},
		{-0.049, "0.0"},
		{-1e-300, "0.0"},
		{0.04, "0.0"},
		{-0.06, "-0.1"},
		{-2.5, "-2.5"},
		{5, "5.0"},
		{1000, "1000.0"},
	} {
		if got := FormatPoints(tc.in); got != tc.want {
			t.Errorf("FormatPoints(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// No number in X-Spam-Status reads -0.0: not the total, not a test, not
// the threshold.
func TestStatusHeadersNoNegativeZero(t *testing.T) {
	p := Policy{Tag: 5, Quarantine: 10, Reject: 15}
	for _, tc := range []struct {
		score float64
		tests []Score
		want  string
	}{
		{-0.001, []Score{{Test: "BAYES_40", Points: -0.001}}, "No, score=0.0 required=5.0 tests=BAYES_40=0.0"},
		{-0.03, []Score{{Test: "BAYES_40", Points: -0.04}, {Test: "X", Points: 0.01}}, "No, score=0.0 required=5.0 tests=BAYES_40=0.0,X=0.0"},
		// A test that fired twice is summed before rounding.
		{0, []Score{{Test: "A", Points: -0.02}, {Test: "A", Points: -0.02}}, "No, score=0.0 required=5.0 tests=A=0.0"},
		{-1.5, []Score{{Test: "BAYES_00", Points: -1.5}}, "No, score=-1.5 required=5.0 tests=BAYES_00=-1.5"},
	} {
		h := p.StatusHeaders(tc.score, tc.tests, false)
		if len(h) != 1 || h[0].Value != tc.want {
			t.Errorf("StatusHeaders(%v, %v) = %+v, want %q", tc.score, tc.tests, h, tc.want)
		}
	}
	h := Policy{Tag: math.Copysign(0, -1)}.StatusHeaders(-0.01, nil, false)
	if h[0].Value != "No, score=0.0 required=0.0 tests=none" {
		t.Errorf("zero threshold: %q", h[0].Value)
	}
}
