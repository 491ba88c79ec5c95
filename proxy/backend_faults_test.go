package proxy

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/logbuf"
	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// startProxyTo runs the gateway in front of backend (a host:port the test
// runs, such as a private Postfix).
func startProxyTo(t *testing.T, cfg Config, backend string) *testProxy {
	t.Helper()
	logs := &logbuf.Buffer{}
	if cfg.Chain == nil {
		cfg.Chain = testChain()
	}
	cfg.Backend = backend
	cfg.Hostname = "gw.test"
	cfg.SpoolDir = t.TempDir()
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, addr: l.Addr().String(), logs: logs, log: cfg.Log, done: make(chan error, 1)}
	go func() { tp.done <- p.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.String())
		}
	})
	return tp
}

// TestBackendRefusedDataCommand: Postfix refusing the DATA command itself
// (smtpd_data_restrictions) keeps its transaction open, so the backend
// connection must be reset before it carries the next MAIL FROM; else
// Postfix answers "503 5.5.1 Error: nested MAIL command" and the next,
// innocent message of the session is refused for good.
func TestBackendRefusedDataCommand(t *testing.T) {
	if ok, why := postfixtest.Available(); !ok {
		t.Skip(why)
	}
	rec := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_data_restrictions": "check_sender_access inline:{ refused@example.com=REJECT }",
	}})
	tp := startProxyTo(t, Config{}, pf.Addr)
	c := tp.dial(t)
	defer c.Close()
	if r := c.Send("refused@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code/100 != 5 {
		t.Fatalf("message Postfix refuses at DATA: %s, want 5xx", r)
	}
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Fatalf("next message in the same session: %s, want 250", r)
	}
	msgs := rec.Wait(1, 30*time.Second)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "Subject: hello") {
		t.Errorf("relayed %d messages, want the second one", len(msgs))
	}
}
