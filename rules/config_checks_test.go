package rules

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"mailguard/filters"
)

func TestChecksConfig(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
hostname: mx.example.org
domains: [example.org]
checks:
  malformed: {long_line: score, duplicate_header: off}
  scores: {MALFORMED_LONG_LINE: 2.5, MISSING_DATE: 0}
  date_past: 720h
  many_recipients: 50
  mime: {max_parts: 200}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Checks
	if c.Malformed.LongLine != "score" || c.Malformed.DuplicateHeader != "off" || c.Malformed.NUL != "reject" {
		t.Errorf("malformed %+v: want long_line score, duplicate_header off, the rest reject", c.Malformed)
	}
	if c.Scores["MALFORMED_LONG_LINE"] != 2.5 || c.Scores["MISSING_DATE"] != 0 || c.Scores["GTUBE"] != 1000 {
		t.Errorf("scores %v: want the two set and the other defaults", c.Scores)
	}
	if c.DatePast != 720*time.Hour || c.DateFuture != filters.DefaultDateFuture || c.ManyRecipients != 50 ||
		c.MIME.MaxParts != 200 || c.MIME.MaxDepth != filters.DefaultMIMEMaxDepth {
		t.Errorf("checks %+v", c)
	}
}

func TestChecksConfigProblems(t *testing.T) {
	tests := []problemCase{
		{"checks: {malformed: {nul: drop}}", "checks.malformed.nul", "reject, score or off"},
		{"checks: {malformed: {long_lines: off}}", "checks.malformed.long_lines", "did you mean long_line"},
		{"checks: {scores: {MISSING_DAT: 1}}", "checks.scores.MISSING_DAT", "did you mean MISSING_DATE"},
		{"checks: {date_future: 0s}", "checks.date_future", "over 0"},
		{"checks: {many_recipients: 0}", "checks.many_recipients", "at least 1"},
		{"checks: {mime: {max_depth: 0}}", "checks.mime.max_depth", "at least 1"},
		{"checks: {mime: {max_decoded_bytes: -1}}", "checks.mime.max_decoded_bytes", "at least 1"},
	}
	expectProblems(t, 0, tests)
}

// TestBuildChecks builds the chain from a configuration and runs a message
// through it: the configured mode and the configured hostname take effect.
func TestBuildChecks(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
hostname: mx.example.org
domains: [example.org]
checks: {malformed: {missing_from: score}, scores: {MISSING_FROM: 3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var checks filters.MessageChecker
	for _, b := range builders {
		if b.name != "checks" {
			continue
		}
		fs, err := b.build(cfg, &Deps{Log: slog.Default()})
		if err != nil {
			t.Fatal(err)
		}
		checks = fs[0].(filters.MessageChecker)
	}
	if checks == nil {
		t.Fatal("no checks filter registered")
	}
	conn := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.1"), Helo: "MX.example.org"}
	tx := filters.NewTransaction(conn, "Q1")
	m := filters.NewMessage([]byte("To: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"))
	v := checks.CheckMessage(context.Background(), tx, m)
	got := map[string]float64{}
	for _, s := range v.Scores {
		got[s.Test] = s.Points
	}
	if v.Action != filters.Continue || got["MISSING_FROM"] != 3 || got["HELO_LOCAL_NAME"] == 0 {
		t.Errorf("verdict %v %v: want MISSING_FROM=3 scored and HELO_LOCAL_NAME", v.Action, got)
	}
}
