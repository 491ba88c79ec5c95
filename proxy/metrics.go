package proxy

import (
	"time"

	"mailguard/metrics"
)

// observeBackend records how long a backend command took, and a failure to
// talk to the backend (not its refusals).
func observeBackend(cmd string, start time.Time, err error) {
	metrics.BackendDuration.WithLabelValues(cmd).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.BackendErrors.WithLabelValues(cmd).Inc()
	}
}
