package rbl

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mailguard/metrics"
)

// Each lookup is counted under its list and result: a listing, a clean
// answer, a failure (SERVFAIL) and a server that never answers.
func TestLookupCounted(t *testing.T) {
	e := newEnv(t)
	l := &List{Zone: "bl.test", Reject: true}
	tests := []struct {
		name, result string
		wait         time.Duration
	}{
		{"10.2.0.192.bl.test", metrics.Listed, 5 * time.Second},
		{"1.2.0.192.bl.test", metrics.Clean, 5 * time.Second},
		{"14.2.0.192.bl.test", metrics.Error, 5 * time.Second},
		// The deadline ends the wait; nothing is measured against it.
		{"15.2.0.192.bl.test", metrics.Timeout, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		c := metrics.DNSListQueries.WithLabelValues("bl.test", tt.result)
		before := testutil.ToFloat64(c)
		ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
		Lookup(ctx, e.res, l, tt.name, e.log)
		cancel()
		if got := testutil.ToFloat64(c); got != before+1 {
			t.Errorf("%s: %s count went from %v to %v, want one more", tt.name, tt.result, before, got)
		}
	}
}
