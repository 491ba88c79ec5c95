package proxy

import (
	"time"

	"mailguard/filters"
	"mailguard/maillog"
	"mailguard/metrics"
)

// decidedBy takes the "filter" and "test" pairs out of a refusal's log
// attributes; without a filter, the gateway itself decided.
func decidedBy(args []any) (filter, test string, rest []any) {
	filter = maillog.Gateway
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		v, isString := args[i+1].(string)
		switch {
		case k == "filter" && isString:
			if v != "" {
				filter = v
			}
		case k == "test" && isString:
			test = v
		default:
			rest = append(rest, args[i], args[i+1])
		}
	}
	return filter, test, rest
}

// decidingTest is the test that weighed most in a message's outcome, "" when
// none scored: a bounded label (test names come from the configuration).
func decidingTest(out filters.Outcome) string {
	if top := filters.TopTests(out.Tests, 1); len(top) > 0 && top[0].Points > 0 {
		return top[0].Test
	}
	return ""
}

// accepted describes an accepted message for its log line.
func accepted(outcome string, out filters.Outcome, m *filters.Message, nrcpt int) maillog.Message {
	return maillog.Message{Outcome: outcome, Size: m.Size, Nrcpt: nrcpt, Score: out.Score, Tests: out.Tests, Test: decidingTest(out)}
}

// observeBackend records how long a backend command took, and a failure to
// talk to the backend (not its refusals).
func observeBackend(cmd string, start time.Time, err error) {
	metrics.BackendDuration.WithLabelValues(cmd).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.BackendErrors.WithLabelValues(cmd).Inc()
	}
}
