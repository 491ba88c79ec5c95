package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
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
// It may run on any goroutine: failures are reported with Error.
func sendOne(tb testing.TB, addr string, msg []byte) { sendOneFrom(tb, addr, "", msg) }

// sendOneFrom is sendOne from the source address src ("" for any).
func sendOneFrom(tb testing.TB, addr, src string, msg []byte) {
	c, err := smtptest.DialErr(tb, addr, smtptest.DialOptions{Source: src, Timeout: 30 * time.Second})
	if err != nil {
		tb.Error(err)
		return
	}
	defer c.Close()
	for _, cmd := range []string{"EHLO client.test", "MAIL FROM:<a@example.com>", "RCPT TO:<u@example.org>", "DATA"} {
		r, err := c.CmdErr("%s", cmd)
		if err != nil || r.Code/100 > 3 {
			tb.Errorf("%s: %v %v", cmd, r, err)
			return
		}
	}
	if r, err := c.SendBody(msg); err != nil || r.Code != 250 {
		tb.Errorf("message: %v %v", r, err)
	}
}

// benchBackend is the last backend startBenchProxy started.
var benchBackend *smtptest.Server

// startBenchProxy runs a proxy with the test chain in front of a discarding
// backend.
func startBenchProxy(b *testing.B) (proxyAddr, backendAddr string) {
	be := smtptest.Start(b, smtptest.Options{Discard: true})
	benchBackend = be
	// Every message comes from 127.0.0.1: the per-client rates would
	// refuse all but the first few.
	p, err := New(Config{Backend: be.Addr, Chain: testChain(), Hostname: "gw.test", SpoolDir: b.TempDir(),
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Abuse: Abuse{ConnectionRate: 1 << 30, MessageRate: 1 << 30, RecipientRate: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(l)
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	sendOne(b, l.Addr().String(), tenKB) // warm up: the backend probe, the first connections
	return l.Addr().String(), be.Addr
}

// BenchmarkRelayParallel is BenchmarkRelay with 8 clients at once, each
// path timed on its own (proxied first, then direct).
func BenchmarkRelayParallel(b *testing.B) {
	addr, beAddr := startBenchProxy(b)
	run := func(to string) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					sendOne(b, to, tenKB)
				}
			}()
		}
		for range b.N {
			next <- struct{}{}
		}
		close(next)
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	proxied := run(addr)
	direct := run(beAddr)
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n/proxied.Seconds(), "proxied-msgs/s")
	b.ReportMetric(n/direct.Seconds(), "direct-msgs/s")
	b.ReportMetric(direct.Seconds()/proxied.Seconds(), "ratio")
}

// BenchmarkRelay relays 10 KB messages through the proxy and reports the
// throughput as a ratio to the same messages sent straight to the same
// backend in the same run (1.0 would be a free proxy).
func BenchmarkRelay(b *testing.B) {
	addr, beAddr := startBenchProxy(b)

	// Alternate the two paths so both see the same machine: other work,
	// sockets in TIME_WAIT, the garbage collector. The allocations of
	// each path are counted apart (outside the timed sends): the client
	// and the backend run in this process too, so the proxy's own are
	// the difference.
	var proxied, direct time.Duration
	var proxiedAllocs, directAllocs, proxiedBytes, directBytes uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for range b.N {
		runtime.ReadMemStats(&ms)
		m0, b0 := ms.Mallocs, ms.TotalAlloc
		t0 := time.Now()
		sendOne(b, addr, tenKB)
		t1 := time.Now()
		runtime.ReadMemStats(&ms)
		m1, b1 := ms.Mallocs, ms.TotalAlloc
		t2 := time.Now()
		sendOne(b, beAddr, tenKB)
		t3 := time.Now()
		runtime.ReadMemStats(&ms)
		proxied += t1.Sub(t0)
		direct += t3.Sub(t2)
		proxiedAllocs, proxiedBytes = proxiedAllocs+m1-m0, proxiedBytes+b1-b0
		directAllocs, directBytes = directAllocs+ms.Mallocs-m1, directBytes+ms.TotalAlloc-b1
	}
	b.StopTimer()

	n := float64(b.N)
	b.ReportMetric(n/proxied.Seconds(), "proxied-msgs/s")
	b.ReportMetric(n/direct.Seconds(), "direct-msgs/s")
	b.ReportMetric(direct.Seconds()/proxied.Seconds(), "ratio")
	b.ReportMetric((float64(proxiedAllocs)-float64(directAllocs))/n, "proxy-allocs/msg")
	b.ReportMetric((float64(proxiedBytes)-float64(directBytes))/n, "proxy-B/msg")
}
