package e2e

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"mailguard/internal/testutil/dnstest"
	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// BenchmarkPostfixMilter measures messages per second accepted by one
// private Postfix on two smtpd listeners, one calling `mailguard serve` as
// its milter and one without, in the same run and alternately, so both see
// the same machine. It reports both rates and their ratio (milter/alone).
func BenchmarkPostfixMilter(b *testing.B) {
	if ok, why := postfixtest.Available(); !ok {
		b.Skipf("postfixtest: %s", why)
	}
	zone, err := os.ReadFile("testdata/base.zone")
	if err != nil {
		b.Fatal(err)
	}
	dns := dnstest.Start(b, string(zone))
	rec := smtptest.Start(b, smtptest.Options{})
	milterAddr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(b))
	startServe(b, map[string]any{
		"hostname":       "mx.test",
		"listen":         "127.0.0.1:0",
		"backend":        rec.Addr,
		"data_dir":       filepath.Join(b.TempDir(), "data"),
		"domains":        []string{"example.org"},
		"relay_networks": []string{},
		"dns":            map[string]any{"resolver": dns.Addr(), "timeout": "2s"},
		"milter":         map[string]any{"listen": milterAddr},
	})
	plain := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(b))
	pf := postfixtest.Start(b, postfixtest.Options{
		Relay:  rec.Addr,
		Main:   milterMain(milterAddr),
		Master: []string{plain + " inet n - n - - smtpd\n  -o smtpd_milters="},
	})

	const workers, perWorker = 4, 5
	msg := testMessage("benchmark message", 2000)
	round := func(addr string) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := smtptest.Dial(b, addr, smtptest.DialOptions{Source: "127.0.0." + strconv.Itoa(10+w)})
				defer c.Close()
				c.Expect(250, "EHLO client.test")
				for range perWorker {
					if r := c.Send("a@example.com", []string{"u@example.org"}, msg); r.Code != 250 {
						b.Errorf("%s: %s", addr, r)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	round(plain)
	round(pf.Addr)
	var alone, milter time.Duration
	b.ResetTimer()
	for b.Loop() {
		alone += round(plain)
		milter += round(pf.Addr)
	}
	b.StopTimer()
	n := float64(b.N * workers * perWorker)
	aloneRate, milterRate := n/alone.Seconds(), n/milter.Seconds()
	b.ReportMetric(aloneRate, "alone_msgs/s")
	b.ReportMetric(milterRate, "milter_msgs/s")
	b.ReportMetric(milterRate/aloneRate, "ratio")
}

// startServe runs `mailguard serve` on settings until the benchmark ends
// and waits for its milter to listen.
func startServe(b *testing.B, settings map[string]any) {
	b.Helper()
	data, err := yaml.Marshal(settings)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "mailguard.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "-config", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	var seen []string
	for lines.Scan() {
		seen = append(seen, lines.Text())
		if strings.Contains(lines.Text(), "msg=listening service=milter") {
			go io.Copy(io.Discard, stderr)
			return
		}
	}
	b.Fatalf("mailguard did not start its milter:\n%s", strings.Join(seen, "\n"))
}
