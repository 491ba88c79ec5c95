package proxy

import (
	"time"

	"mailguard/filters"
	"mailguard/metrics"
)

// refusedOutcome is a refusal's outcome label.
func refusedOutcome(r filters.Reply) string {
	if r.Temporary() {
		return metrics.Tempfailed
	}
	return metrics.Rejected
}

// filterOf takes the deciding filter out of a log line's attributes ("filter"
// is set when the chain decided); otherwise the gateway itself did.
func filterOf(args []any) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "filter" {
			if v, ok := args[i+1].(string); ok && v != "" {
				return v
			}
		}
	}
	return "mailguard"
}

// decidingTest is the test that weighed most in a message's outcome, "" when
// none scored: a bounded label (test names come from the configuration).
func decidingTest(out filters.Outcome) string {
	if top := filters.TopTests(out.Tests, 1); len(top) > 0 && top[0].Points > 0 {
		return top[0].Test
	}
	return ""
}

// countMessage counts a message at the end of DATA.
func countMessage(outcome string, out filters.Outcome) {
	metrics.Messages.WithLabelValues(outcome, decidingTest(out)).Inc()
}

// observeBackend records how long a backend command took, and a failure to
// talk to the backend (not its refusals).
func observeBackend(cmd string, start time.Time, err error) {
	metrics.BackendDuration.WithLabelValues(cmd).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.BackendErrors.WithLabelValues(cmd).Inc()
	}
}
