package classifier

import (
	"math"
	"testing"
)

func TestCalibrationProb(t *testing.T) {
	c := Calibration{{-5, 0.01}, {0, 0.5}, {2, 0.99}}
	for _, x := range []struct{ l, want float64 }{
		{-100, 0.01}, {-5, 0.01}, {-0.1, 0.01}, {0, 0.5}, {1.9, 0.5}, {2, 0.99}, {1e9, 0.99},
	} {
		if got := c.Prob(x.l); got != x.want {
			t.Errorf("Prob(%v) = %v, want %v", x.l, got, x.want)
		}
	}
	// Without a calibration, the uncalibrated probability.
	if got := Calibration(nil).Prob(0); got != 0.5 {
		t.Errorf("empty calibration: Prob(0) = %v", got)
	}
	if err := DefaultCalibration().Validate(); err != nil {
		t.Errorf("default calibration: %v", err)
	}
}

// FitCalibration is isotonic: each step holds at least minCalBlock
// messages, steps rise, and a step's probability is its spam share pulled
// half a message towards 0.5.
func TestFitCalibration(t *testing.T) {
	var odds []float64
	var spam []bool
	add := func(l float64, n, s int) {
		for i := range n {
			odds = append(odds, l+float64(i)*1e-6)
			spam = append(spam, i < s)
		}
	}
	add(-10, 100, 0) // sure ham
	add(0, 40, 30)   // three quarters spam, out of order within
	add(10, 100, 100)
	c := FitCalibration(odds, spam)
	if err := c.Validate(); err != nil {
		t.Fatalf("%v: %v", c, err)
	}
	want := []float64{0.5 / 101, 30.5 / 41, 100.5 / 101}
	if len(c) != len(want) {
		t.Fatalf("steps %v, want %d", c, len(want))
	}
	for i, w := range want {
		if math.Abs(c[i].Prob-w) > 1e-12 {
			t.Errorf("step %d: prob %v, want %v", i, c[i].Prob, w)
		}
	}
	if c[1].Odds != 0 || c[2].Odds != 10 {
		t.Errorf("steps start at %v, %v; want 0 and 10", c[1].Odds, c[2].Odds)
	}
	// A few ham above some spam: pooled, never a falling step.
	odds = append(odds, 20, 20.1, 20.2)
	spam = append(spam, false, false, true)
	c = FitCalibration(odds, spam)
	if err := c.Validate(); err != nil {
		t.Fatalf("%v: %v", c, err)
	}
	if FitCalibration(odds[:10], spam[:10]) != nil {
		t.Error("a calibration from 10 messages")
	}
}
