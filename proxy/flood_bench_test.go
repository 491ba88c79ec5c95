package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// BenchmarkFlood is the flood the admission limits are for: 1,500
// attackers from 300 addresses in 30 networks (127.0.0-29.1-10: 10
// addresses with 5 connections each fill a /24's 50 slots, so together they
// can take all 500) hold, trickle and reconnect, while 500 legitimate
// connections from 100 other addresses (127.1.0.0/16, peers that passed the
// pregreet before) each send a message. 2,000 connections at once against
// the default limits (500 slots, 20 per address, 50 per /24) and a 700ms
// pregreet. Every legitimate message must get 250; the figures are the p99
// from connect to the final 250 and the gateway's peak RSS and CPU time.
//
// The gateway runs in a process of its own (this test binary again, see
// TestMain), so its figures are its own and the clients, on the same two
// cores, do not count in them. The same legitimate load without attackers
// runs first, as the baseline the flood's p99 is reported against
// (p99-ratio).
func BenchmarkFlood(b *testing.B) {
	for range b.N {
		base, _ := flood(b, 0)
		p99, gw := flood(b, 1500)
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(p99)/float64(base), "p99-ratio")
		b.ReportMetric(float64(gw.peakRSS)/1024, "gateway-peak-RSS-MiB")
		b.ReportMetric(gw.cpu.Seconds(), "gateway-CPU-s")
	}
}

// floodGatewayEnv makes the test binary a gateway for BenchmarkFlood: it
// serves the backend named in the variable on 127.0.0.1, writes its address
// on stdout, and shuts down when stdin closes.
const floodGatewayEnv = "MAILGUARD_FLOOD_GATEWAY_BACKEND"

// floodProfileEnv names a file prefix: each gateway process of
// BenchmarkFlood writes its CPU profile to PREFIX-ATTACKERS.pprof.
const floodProfileEnv = "FLOOD_CPUPROFILE"

func TestMain(m *testing.M) {
	if be := os.Getenv(floodGatewayEnv); be != "" {
		os.Exit(floodGateway(be))
	}
	os.Exit(m.Run())
}

func floodGateway(backend string) int {
	spool, err := os.MkdirTemp("", "mailguard-flood-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(spool)
	p, err := New(Config{Chain: testChain(), Backend: backend, Hostname: "gw.test", SpoolDir: spool,
		Log: slog.New(slog.DiscardHandler), Abuse: Abuse{GreetDelay: 700 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if f := os.Getenv(floodProfileEnv); f != "" {
		if out, err := os.Create(f); err == nil {
			pprof.StartCPUProfile(out)
			defer pprof.StopCPUProfile()
		}
	}
	go p.Serve(l)
	fmt.Println(l.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	return 0
}

// gatewayFigures are a gateway process's peak RSS (KiB) and CPU time.
type gatewayFigures struct {
	peakRSS int64
	cpu     time.Duration
}

// startGateway runs a flood gateway process in front of backend and returns
// its address and a function that stops it and returns its figures.
func startGateway(b *testing.B, backend string, attackers int) (string, func() gatewayFigures) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), floodGatewayEnv+"="+backend)
	if f := os.Getenv(floodProfileEnv); f != "" {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s-%d.pprof", floodProfileEnv, f, attackers))
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("flood gateway: %v", err)
	}
	return strings.TrimSpace(addr), func() gatewayFigures {
		var f gatewayFigures
		f.peakRSS = procPeakRSS(cmd.Process.Pid)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("flood gateway: %v", err)
		}
		if st := cmd.ProcessState; st != nil {
			f.cpu = st.UserTime() + st.SystemTime()
		}
		return f
	}
}

// flood runs the legitimate load against a fresh gateway beside attackers
// attacking connections, and returns the p99 from connect to 250 and the
// gateway's figures.
func flood(b *testing.B, attackers int) (time.Duration, gatewayFigures) {
	be := smtptest.Start(b, smtptest.Options{})
	addr, stopGateway := startGateway(b, be.Addr, attackers)
	var gw gatewayFigures
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			gw = stopGateway()
		}
	}
	defer stop()
	legit := func(i int) string { return fmt.Sprintf("127.1.%d.%d", i%20, i/20+1) }

	// The legitimate peers passed the pregreet earlier today.
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			c, err := smtptest.DialErr(b, addr, smtptest.DialOptions{Source: legit(i), Timeout: 10 * time.Second})
			if err != nil || c.Banner.Code != 220 {
				b.Errorf("warm-up from %s: %v %v", legit(i), c, err)
				return
			}
			c.Cmd("QUIT")
			c.Close()
		})
	}
	wg.Wait()

	ctx, stopAttack := context.WithCancel(context.Background())
	var attackWG sync.WaitGroup
	var held atomic.Int64
	for i := range attackers {
		// 300 addresses in 30 networks: 10 addresses with 5 connections
		// each fill a /24's 50 slots, so together they can take all 500.
		a := i % 300
		src := fmt.Sprintf("127.0.%d.%d", a/10, a%10+1)
		attackWG.Go(func() { attack(ctx, addr, src, i%2 == 0, &held) })
	}
	if attackers > 0 {
		// Let the attackers take what they can before the mail arrives.
		time.Sleep(3 * time.Second)
	}

	lat := make([]time.Duration, 500)
	var failed atomic.Int64
	var legitWG sync.WaitGroup
	start := time.Now()
	for i := range 500 {
		legitWG.Go(func() {
			t0 := time.Now()
			c, err := smtptest.DialErr(b, addr, smtptest.DialOptions{Source: legit(i % 100), Timeout: 60 * time.Second})
			if err != nil {
				failed.Add(1)
				b.Errorf("legitimate client %d: %v", i, err)
				return
			}
			defer c.Close()
			if c.Banner.Code != 220 {
				failed.Add(1)
				b.Errorf("legitimate client %d banner: %s", i, c.Banner)
				return
			}
			r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg))
			if r.Code != 250 {
				failed.Add(1)
				b.Errorf("legitimate client %d: %s", i, r)
				return
			}
			lat[i] = time.Since(t0)
		})
	}
	legitWG.Wait()
	elapsed := time.Since(start)
	// Backend connections the legitimate mail took (the pool's misses).
	dials := be.Connections()
	stopAttack()
	attackWG.Wait()
	stop()

	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	fmt.Printf("flood (%d attackers): %d/500 legitimate messages got 250 in %s; connect-to-250 p50 %s p99 %s; attacker sessions admitted %d; backend connections %d; gateway peak RSS %d MiB, CPU %s\n",
		attackers, 500-failed.Load(), elapsed.Round(time.Millisecond), p50.Round(time.Millisecond), p99.Round(time.Millisecond), held.Load(), dials,
		gw.peakRSS/1024, gw.cpu.Round(time.Millisecond))
	if n := be.Count(); n != 500 {
		b.Errorf("backend got %d messages, want 500", n)
	}
	return p99, gw
}

// attack holds a connection from src as long as it can, idle or sending a
// byte every 500ms, and reconnects when dropped, until ctx ends.
func attack(ctx context.Context, addr, src string, trickle bool, held *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		go func() { <-ctx.Done(); c.Close() }()
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220") {
			c.Close()
			sleepCtx(ctx, time.Second)
			continue
		}
		held.Add(1)
		done := make(chan struct{})
		go func() {
			// Read until the gateway closes the connection.
			for {
				if _, err := r.ReadString('\n'); err != nil {
					close(done)
					return
				}
			}
		}()
	hold:
		for {
			select {
			case <-done:
				break hold
			case <-ctx.Done():
				break hold
			case <-time.After(500 * time.Millisecond):
				if trickle {
					c.Write([]byte("X"))
				}
			}
		}
		c.Close()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// procPeakRSS is a process's peak resident set, in KiB (0 where /proc is
// missing).
func procPeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
