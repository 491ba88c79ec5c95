package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// tenKB is a 10 KB message, the benchmark's unit.
var tenKB = func() []byte {
	var b bytes.Buffer
	b.WriteString(plainMsg)
	for b.Len() < 10<<10 {
		b.WriteString(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1) + "0123456789012345678901234\r\n")
	}
	return b.Bytes()
}()

// sendOne delivers one message on a fresh connection, as an MTA would.
func sendOne(tb testing.TB, addr string, msg []byte) {
	c := smtptest.Dial(tb, addr, smtptest.DialOptions{Timeout: 30 * time.Second})
	if r := c.Send("a@example.com", []string{"u@example.org"}, msg); r.Code != 250 {
		tb.Fatalf("send: %s", r)
	}
	c.Close()
}

// BenchmarkRelay relays 10 KB messages through the proxy and reports the
// throughput as a ratio to the same messages sent straight to the same
// backend in the same run (1.0 would be a free proxy).
func BenchmarkRelay(b *testing.B) {
	be := smtptest.Start(b, smtptest.Options{Discard: true})
	p, err := New(Config{Backend: be.Addr, Chain: testChain(), Hostname: "gw.test", SpoolDir: b.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(l)
	defer p.Shutdown(context.Background())
	addr := l.Addr().String()
	sendOne(b, addr, tenKB) // warm up: the backend probe, the first connections

	// Alternate the two paths so both see the same machine: other work,
	// sockets in TIME_WAIT, the garbage collector.
	var proxied, direct time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		sendOne(b, addr, tenKB)
		t1 := time.Now()
		sendOne(b, be.Addr, tenKB)
		proxied += t1.Sub(t0)
		direct += time.Since(t1)
	}
	b.StopTimer()

	n := float64(b.N)
	b.ReportMetric(n/proxied.Seconds(), "proxied-msgs/s")
	b.ReportMetric(n/direct.Seconds(), "direct-msgs/s")
	b.ReportMetric(direct.Seconds()/proxied.Seconds(), "ratio")
}
