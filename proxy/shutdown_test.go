package proxy

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// TestShutdownNoticeTLS: at shutdown every idle session hears 421 4.3.2
// before its connection closes, under TLS too (through TLS), whether or not
// it said EHLO again after STARTTLS.
func TestShutdownNoticeTLS(t *testing.T) {
	tp := startProxy(t, Config{TLS: testTLS(t)}, smtptest.Options{})
	plain := dialFrom(t, tp, "127.0.0.1")
	plain.Expect(250, "EHLO plain.test")
	ehlo := dialFrom(t, tp, "127.0.0.2")
	ehlo.Expect(250, "EHLO ehlo.test")
	ehlo.StartTLS()
	ehlo.Expect(250, "EHLO ehlo.test")
	bare := dialFrom(t, tp, "127.0.0.3")
	bare.Expect(250, "EHLO bare.test")
	bare.StartTLS()

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- tp.Shutdown(ctx)
	}()
	for name, c := range map[string]*smtptest.Client{"plain": plain, "TLS after EHLO": ehlo, "TLS before EHLO": bare} {
		r, err := c.ReadReply()
		if err != nil || r.Code != 421 || r.Enhanced != "4.3.2" || !strings.Contains(r.Text, "shutting down") {
			t.Errorf("%s session at shutdown: %v %v; want 421 4.3.2", name, r, err)
			continue
		}
		endsWithID(t, r)
		if _, err := c.ReadReply(); err == nil {
			t.Errorf("%s session still open after its 421", name)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownDeadlineTLS: a transaction under TLS still open at the
// shutdown deadline hears 451 4.3.2 through TLS, then the connection ends.
func TestShutdownDeadlineTLS(t *testing.T) {
	tp := startProxy(t, Config{TLS: testTLS(t)}, smtptest.Options{})
	busy := dialFrom(t, tp, "127.0.0.1")
	busy.Expect(250, "EHLO busy.test")
	busy.StartTLS()
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	tp.Shutdown(ctx)
	if r, err := busy.ReadReply(); err != nil || r.Code != 451 || r.Enhanced != "4.3.2" {
		t.Errorf("TLS transaction at the shutdown deadline: %v %v; want 451 4.3.2", r, err)
	}
	if _, err := busy.ReadReply(); err == nil {
		t.Error("connection still open after the shutdown deadline")
	}
	if n := tp.be.Count(); n != 0 {
		t.Errorf("%d messages relayed", n)
	}
}

// TestEvictionAfterReload: an idle session admitted before a reload, closed
// to make room after it, hears its 421 (plain and under TLS): the retired
// configuration's server is not closed under it.
func TestEvictionAfterReload(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			cfg := Config{MaxConnections: 1, TLS: testTLS(t)}
			tp := startProxy(t, cfg, smtptest.Options{})
			old := dialFrom(t, tp, "127.0.0.1")
			old.Expect(250, "EHLO old.test")
			if useTLS {
				old.StartTLS()
				old.Expect(250, "EHLO old.test")
			}
			cfg.Chain, cfg.Backend, cfg.Hostname, cfg.Log = testChain(), tp.be.Addr, "gw.test", tp.log
			if err := tp.Reconfigure(cfg); err != nil {
				t.Fatal(err)
			}
			nc := dialFrom(t, tp, "127.0.0.2")
			if nc.Banner.Code != 220 {
				t.Fatalf("newcomer with an idle session to evict: %s", nc.Banner)
			}
			r, err := old.ReadReply()
			if err != nil || r.Code != 421 || r.Enhanced != "4.7.0" || !strings.Contains(r.Text, "idle session closed") {
				t.Fatalf("idle session of the retired configuration, evicted: %v %v; want 421 4.7.0", r, err)
			}
			if _, err := old.ReadReply(); err == nil {
				t.Error("evicted session still open")
			}
			// The newcomer is served by the new configuration.
			nc.Expect(250, "EHLO new.test")
			nc.Expect(250, "MAIL FROM:<a@example.com>")
			nc.Expect(250, "RCPT TO:<u@example.org>")
			nc.Expect(354, "DATA")
			if r, err := nc.SendBody([]byte(plainMsg)); err != nil || r.Code != 250 {
				t.Fatalf("message after the eviction: %v %v", r, err)
			}
		})
	}
}

// TestShutdownNoticeOpenSSL: OpenSSL's client, in a STARTTLS session that
// said EHLO under TLS, reads the shutdown's 421 4.3.2 decrypted.
func TestShutdownNoticeOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed: apt-get install openssl")
	}
	tp := startProxy(t, Config{TLS: testTLS(t)}, smtptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-starttls", "smtp", "-connect", tp.addr, "-quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	lines := bufio.NewScanner(stdout)
	// readUntil returns the first line with prefix, or fails.
	readUntil := func(prefix string) string {
		t.Helper()
		var seen []string
		for lines.Scan() {
			l := lines.Text()
			if strings.HasPrefix(l, prefix) {
				return l
			}
			seen = append(seen, l)
		}
		t.Fatalf("no %q line from openssl s_client; got %q", prefix, seen)
		return ""
	}
	io.WriteString(stdin, "EHLO openssl.test\r\n")
	readUntil("250 ")
	done := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		done <- tp.Shutdown(sctx)
	}()
	if l := readUntil("421"); !strings.HasPrefix(l, "421 4.3.2 ") {
		t.Errorf("openssl client at shutdown: %q; want 421 4.3.2", l)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
