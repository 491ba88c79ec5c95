package maillog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mailguard/filters"
	"mailguard/metrics"
)

func TestLines(t *testing.T) {
	reply := filters.Reply{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; Client host [192.0.2.1] blocked using bl.test"}
	tests := []struct {
		name  string
		write func(l *slog.Logger)
		want  string
	}{
		{"refusal by a filter", func(l *slog.Logger) {
			Reject(l, Refusal{Phase: "RCPT", Filter: "dnsbl", Test: "RCVD_IN_BL_TEST", Reply: reply, Reason: "listed"}, "to", "<u@example.org>")
		}, `level=INFO msg=reject phase=RCPT filter=dnsbl test=RCVD_IN_BL_TEST reply="554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.test" reason=listed to=<u@example.org>`},
		{"the gateway's own", func(l *slog.Logger) {
			Reject(l, Refusal{Phase: "RCPT", Reply: filters.Reply{Code: 452, Enhanced: "4.5.3", Text: "Error: too many recipients"}})
		}, `level=INFO msg=reject phase=RCPT filter=mailguard reply="452 4.5.3 Error: too many recipients"`},
		{"relayed", func(l *slog.Logger) {
			Accepted(l, Message{Outcome: metrics.Relayed, Size: 10, Nrcpt: 1, Score: 1.5, Tests: []filters.Score{{Test: "MISSING_DATE", Points: 1.5}}})
		}, `level=INFO msg=relayed size=10 nrcpt=1 score=1.5 tests="MISSING_DATE=1.5"`},
		{"tagged", func(l *slog.Logger) {
			Accepted(l, Message{Outcome: metrics.Tagged, Score: 6})
		}, `level=INFO msg=relayed size=0 nrcpt=0 score=6.0 tests="" tagged=true`},
		{"quarantined", func(l *slog.Logger) {
			Accepted(l, Message{Outcome: metrics.Quarantined, Score: 1000, Tests: []filters.Score{{Test: "GTUBE", Points: 1000}}, Test: "GTUBE"}, "quarantine_id", "abc")
		}, `level=INFO msg=quarantined size=0 nrcpt=0 score=1000.0 tests="GTUBE=1000.0" quarantine_id=abc`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		l := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		tt.write(l)
		got := strings.TrimSpace(b.String())
		if strings.Count(got, "\n") != 0 || got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// A refusal in DATA is a message's end too; one in RCPT is not.
func TestCounts(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	rcpt := testutil.ToFloat64(metrics.Refusals.WithLabelValues("RCPT", "verify", metrics.Rejected))
	msgs := testutil.ToFloat64(metrics.Messages.WithLabelValues(metrics.Tempfailed, "X_TEST"))
	Reject(l, Refusal{Phase: "RCPT", Filter: "verify", Reply: filters.Reply{Code: 550}})
	Reject(l, Refusal{Phase: "DATA", Filter: "score", Test: "X_TEST", Reply: filters.Reply{Code: 451}})
	if got := testutil.ToFloat64(metrics.Refusals.WithLabelValues("RCPT", "verify", metrics.Rejected)); got != rcpt+1 {
		t.Errorf("RCPT refusals %v, want %v", got, rcpt+1)
	}
	if got := testutil.ToFloat64(metrics.Messages.WithLabelValues(metrics.Tempfailed, "X_TEST")); got != msgs+1 {
		t.Errorf("tempfailed messages %v, want %v", got, msgs+1)
	}
}
