package e2e

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"go.yaml.in/yaml/v3"

	"mailguard/internal/testutil/dnstest"
)

// The load run: Postfix's smtp-source drives smtp-sink straight and
// through mailguard (every filter on, Bayes trained on the corpus) in turn,
// and one table compares them, beside the same loads through two proxies
// that only pass the mail on (e2e/internal/floorproxy, in its two modes):
// what a proxy costs on this machine before any filter. `make bench` runs it;
// on its own:
//
//	go test ./e2e -run '^$' -bench '^BenchmarkLoad$' -benchtime 1x
//
// LOAD_MESSAGES sets the messages per run (default 2000); LOAD_ONLY runs
// the scenarios whose name contains it; LOAD_PROFILE saves a CPU profile;
// LOAD_LOG_LEVEL writes the gateway's log at that level to
// $TMPDIR/mailguard-load.log; LOAD_BARE_DEBUG=ADDR gives the gateway with
// the filters off a debug.listen of its own, to profile it. Everything
// listens on 127.0.0.1.
const (
	smtpSink   = "/usr/sbin/smtp-sink"
	smtpSource = "/usr/sbin/smtp-source"
	// loadSessions is smtp-source's parallel sessions (-s).
	loadSessions = 20
	// idleConns is how many idle connections the RSS figure is taken on.
	idleConns = 2000
)

// loadZone answers everything the chain asks about the load's client
// (127.0.0.1, client.sender.test) and sender (sender.test): three DNSBLs
// and an RHSBL not listing them, MX, A, SPF, DMARC and the DKIM key.
func loadZone(pub ed25519.PublicKey) string {
	return `$TTL 300
test.                          IN SOA ns.test. hostmaster.test. 1 3600 600 86400 120
sender.test.                   IN MX  10 client.sender.test.
sender.test.                   IN A   127.0.0.1
client.sender.test.            IN A   127.0.0.1
sender.test.                   IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc.sender.test.            IN TXT "v=DMARC1; p=reject"
sel._domainkey.sender.test.    IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(pub) + `"
example.org.                   IN MX  10 mx.example.org.
mx.example.org.                IN A   192.0.2.20
1.0.0.127.in-addr.arpa.        IN PTR client.sender.test.
2.0.0.127.zen.test.            IN A   127.0.0.2
2.0.0.127.bl.test.             IN A   127.0.0.2
2.0.0.127.psbl.test.           IN A   127.0.0.2
listed.test.dbl.test.          IN A   127.0.1.2
`
}

func BenchmarkLoad(b *testing.B) {
	for _, p := range []string{smtpSink, smtpSource} {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("%s not found (Debian package postfix; `make deps` installs it): %v", p, err)
		}
	}
	corpus := filepath.Join("..", "..", "shared", "corpus", "spamassassin")
	if _, err := os.Stat(filepath.Join(corpus, "ham")); err != nil {
		b.Skipf("corpus not found at %s: %v", corpus, err)
	}
	n := 2000
	logLevel := os.Getenv("LOAD_LOG_LEVEL")
	if logLevel == "" {
		logLevel = "warn"
	}
	if v, err := strconv.Atoi(os.Getenv("LOAD_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	dns := dnstest.Start(b, loadZone(pub))

	sinkAddr := freeAddr(b)
	sink := exec.Command(smtpSink, "-u", "nobody", sinkAddr, "1024")
	if err := sink.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sink.Process.Kill(); sink.Wait() })
	waitListen(b, sinkAddr)

	// The configuration: every filter of the chain on.
	rcpts := filepath.Join(dir, "recipients")
	os.WriteFile(rcpts, []byte("u@example.org\n"), 0o600)
	mgAddr, debugAddr := freeAddr(b), freeAddr(b)
	settings := merge(baseSettings(dir, sinkAddr, dns.Addr()), map[string]any{
		"listen":         mgAddr,
		"relay_networks": []string{},
		"dnsbl":          []map[string]any{{"zone": "zen.test"}, {"zone": "bl.test"}, {"zone": "psbl.test"}},
		"rhsbl":          []map[string]any{{"zone": "dbl.test"}},
		"sender_verify":  true,
		"recipients":     map[string]any{"file": rcpts},
		"sender_auth":    map[string]any{"enabled": true},
		"classifier":     map[string]any{"enabled": true},
		// Every filter scores every message, but the run measures the
		// relay path: smtp-source's generated text is what the trained
		// classifier calls spam (BAYES_999), and with the default
		// thresholds each message would go to the quarantine instead.
		"thresholds": map[string]any{"tag": 5, "quarantine": 50, "reject": 60},
		// All the load comes from one address: the per-client limits
		// are raised above it, so they count every connection and
		// message but refuse none.
		"limits": map[string]any{"max_connections": idleConns + 200, "max_connections_per_ip": idleConns + 200,
			"max_connections_per_network": idleConns + 200, "connection_rate": 10_000_000,
			"message_rate": 10_000_000, "recipient_rate": 10_000_000},
		"log":   map[string]any{"level": logLevel},
		"debug": map[string]any{"listen": debugAddr},
	})
	cfgPath := writeConfigTB(b, dir, settings, "mailguard.yaml")

	// Bayes trained on the whole corpus before the gateway starts.
	start := time.Now()
	for _, class := range []string{"ham", "spam"} {
		out, err := exec.Command(binary, "train", "-config", cfgPath, "-"+class, filepath.Join(corpus, class)).CombinedOutput()
		if err != nil {
			b.Fatalf("mailguard train -%s: %v\n%s", class, err, out)
		}
	}
	b.Logf("trained on %s in %v", corpus, time.Since(start).Round(time.Millisecond))

	var mglog bytes.Buffer
	mg := exec.Command(binary, "serve", "-config", cfgPath)
	mg.Stdout, mg.Stderr = &mglog, &mglog
	if err := mg.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mg.Process.Kill(); mg.Wait() })
	waitListen(b, mgAddr)
	pid := mg.Process.Pid

	// A second gateway with the filters that ask DNS or the token store
	// off: the proxy's own cost, the floor the filters add to.
	bareAddr := freeAddr(b)
	bareSettings := merge(settings, map[string]any{
		"listen": bareAddr, "data_dir": filepath.Join(dir, "bare-data"), "debug": map[string]any{"listen": os.Getenv("LOAD_BARE_DEBUG")},
		"dnsbl": []map[string]any{}, "rhsbl": []map[string]any{}, "sender_verify": false,
		"sender_auth": map[string]any{"enabled": false}, "classifier": map[string]any{"enabled": false},
	})
	delete(bareSettings, "recipients")
	bareCfg := writeConfigTB(b, dir, bareSettings, "bare.yaml")
	bare := exec.Command(binary, "serve", "-config", bareCfg)
	var barelog bytes.Buffer
	bare.Stdout, bare.Stderr = &barelog, &barelog
	if err := bare.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.Process.Kill(); bare.Wait() })
	waitListen(b, bareAddr)

	// Two floors: proxies in Go that do nothing but pass the mail on, one
	// copying bytes with a new backend connection per client, one relaying
	// SMTP with go-smtp on both sides and a backend connection reused. Any
	// proxy adds its own TCP work on the loopback to the sink's and
	// smtp-source's, so these show what a proxy costs here before any
	// filter.
	floorBin := filepath.Join(dir, "floorproxy")
	if out, err := exec.Command("go", "build", "-o", floorBin, "mailguard/e2e/internal/floorproxy").CombinedOutput(); err != nil {
		b.Fatalf("building floorproxy: %v\n%s", err, out)
	}
	smtpFloor := startFloor(b, floorBin, "smtp", sinkAddr)
	tcpFloor := startFloor(b, floorBin, "tcp", sinkAddr)

	// The real messages: corpus ham of about 12 KB, two of them from
	// sender.test and DKIM-signed with the key in the zone.
	real := realMessages(b, corpus, dir, priv)

	gen := []string{"-l", "10240"}
	full, bareGW := gateway{mgAddr, pid}, gateway{bareAddr, bare.Process.Pid}
	scenarios := []struct {
		name  string
		args  [][]string // one smtp-source per entry, sessions split evenly
		probe []byte
		gw    gateway
	}{
		{"generated 10 KB, new connection", [][]string{gen}, genMessage(10240), full},
		{"generated 10 KB, reused connections", [][]string{append([]string{"-d"}, gen...)}, genMessage(10240), full},
		{"real corpus ham (-F), new connection", realArgs(real), mustRead(b, real[0]), full},
		{"filters off: generated, new connection", [][]string{gen}, genMessage(10240), bareGW},
		{"floor, go-smtp relay: generated, new", [][]string{gen}, genMessage(10240), smtpFloor},
		{"floor, go-smtp relay: real ham (-F)", realArgs(real), mustRead(b, real[0]), smtpFloor},
		{"floor, TCP proxy: generated, new", [][]string{gen}, genMessage(10240), tcpFloor},
		{"floor, TCP proxy: real ham (-F)", realArgs(real), mustRead(b, real[0]), tcpFloor},
	}

	// Warm up: the DNS cache, the token snapshot, the spool.
	if err := runSource(mgAddr, 200, [][]string{gen}); err != nil {
		b.Fatalf("warm-up through mailguard: %v\n%s", err, mglog.String())
	}
	if err := runSource(mgAddr, 100, realArgs(real)); err != nil {
		b.Fatalf("warm-up through mailguard: %v\n%s", err, mglog.String())
	}
	if err := runSource(bareAddr, 200, [][]string{gen}); err != nil {
		b.Fatalf("warm-up through mailguard, filters off: %v\n%s", err, barelog.String())
	}

	type row struct {
		name             string
		mgRate, sinkRate float64
		cpuMs            float64
		hostBusy         float64 // percent of all cores busy during the mailguard runs
		p50, p99         time.Duration
	}
	var rows []row
	// LOAD_PROFILE=FILE saves a CPU profile of the gateway over the
	// first LOAD_PROFILE_SECONDS (default 10) of the measured runs.
	profDone := make(chan struct{})
	if path := os.Getenv("LOAD_PROFILE"); path != "" {
		secs := os.Getenv("LOAD_PROFILE_SECONDS")
		if secs == "" {
			secs = "10"
		}
		go func() {
			defer close(profDone)
			resp, err := http.Get("http://" + debugAddr + "/debug/pprof/profile?seconds=" + secs)
			if err != nil {
				b.Logf("profile: %v", err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(path)
			if err == nil {
				io.Copy(f, resp.Body)
				f.Close()
			}
		}()
	} else {
		close(profDone)
	}
	defer func() { <-profDone }()
	for _, sc := range scenarios {
		if only := os.Getenv("LOAD_ONLY"); only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		var mgDur, sinkDur time.Duration
		var mgMsgs int
		var cpu, busy, total float64
		var mgLat, sinkLat []time.Duration
		for range 2 { // interleaved: sink, mailguard, sink, mailguard
			d, lat, err := timedRun(sinkAddr, n, sc.args, sc.probe)
			if err != nil {
				b.Fatalf("%s straight at the sink: %v", sc.name, err)
			}
			sinkDur += d
			sinkLat = append(sinkLat, lat...)
			c0, h0 := procCPU(b, sc.gw.pid), hostCPU(b)
			d, lat, err = timedRun(sc.gw.addr, n, sc.args, sc.probe)
			if err != nil {
				b.Fatalf("%s through mailguard: %v\n%s%s", sc.name, err, mglog.String(), barelog.String())
			}
			cpu += procCPU(b, sc.gw.pid) - c0
			h1 := hostCPU(b)
			busy += h1.busy - h0.busy
			total += h1.total - h0.total
			mgDur += d
			mgMsgs += n
			mgLat = append(mgLat, lat...)
		}
		r := row{name: sc.name, mgRate: float64(mgMsgs) / mgDur.Seconds(), sinkRate: float64(mgMsgs) / sinkDur.Seconds(), cpuMs: cpu * 1000 / float64(mgMsgs), hostBusy: 100 * busy / total}
		if len(mgLat) > 10 && len(sinkLat) > 10 {
			r.p50 = pct(mgLat, 50) - pct(sinkLat, 50)
			r.p99 = pct(mgLat, 99) - pct(sinkLat, 99)
		}
		rows = append(rows, r)
	}
	// The latency one session alone adds with the real messages: the
	// probe on its own, sink and mailguard in turn.
	var aloneMG, aloneSink []time.Duration
	realMsg := mustRead(b, real[0])
	for range 3 {
		aloneSink = append(aloneSink, probeFor(sinkAddr, realMsg, 2*time.Second)...)
		aloneMG = append(aloneMG, probeFor(mgAddr, realMsg, 2*time.Second)...)
	}
	peak := procStatus(b, pid, "VmHWM")
	perIdle := idleRSS(b, pid, mgAddr)
	if os.Getenv("LOAD_LOG_LEVEL") != "" {
		os.WriteFile(filepath.Join(os.TempDir(), "mailguard-load.log"), mglog.Bytes(), 0o600)
	}

	var t strings.Builder
	fmt.Fprintf(&t, "\nload run: smtp-source -s %d, %d messages a run, sink and mailguard interleaved twice; mailguard with 3 DNSBL, RHSBL, sender verify, SPF/DKIM/DMARC, recipients file, message checks, Bayes trained on the corpus\n", loadSessions, n)
	fmt.Fprintf(&t, "floor rows: the load through a proxy in Go that only passes the mail on, in mailguard's place (a proxy's cost here before any filter)\n")
	fmt.Fprintf(&t, "%-40s %12s %12s %7s %12s %12s %12s %10s\n", "load", "through/s", "straight/s", "ratio", "CPU ms/msg", "p50 added", "p99 added", "host busy")
	for _, r := range rows {
		fmt.Fprintf(&t, "%-40s %12.0f %12.0f %7.2f %12.3f %12s %12s %9.0f%%\n", r.name, r.mgRate, r.sinkRate, r.mgRate/r.sinkRate, r.cpuMs, fmtLat(r.p50), fmtLat(r.p99), r.hostBusy)
		b.ReportMetric(r.mgRate/r.sinkRate, metricName(r.name)+"-ratio")
	}
	if len(aloneMG) > 10 && len(aloneSink) > 10 {
		fmt.Fprintf(&t, "%-40s %12s %12s %7s %12s %12s %12s\n", "real ham, one session alone", "", "", "", "", fmtLat(pct(aloneMG, 50)-pct(aloneSink, 50)), fmtLat(pct(aloneMG, 99)-pct(aloneSink, 99)))
	}
	fmt.Fprintf(&t, "peak RSS (VmHWM) %.1f MiB; RSS per idle connection (%d idle) %.1f KiB\n", float64(peak)/1024, idleConns, perIdle)
	fmt.Print(t.String())
	b.ReportMetric(perIdle, "KiB/idle-conn")
	b.ReportMetric(0, "ns/op")
}

func fmtLat(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

// writeConfigTB is WriteConfig for a benchmark.
func writeConfigTB(b *testing.B, dir string, settings map[string]any, name string) string {
	b.Helper()
	buf, err := yaml.Marshal(settings)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListen(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("nothing listens on %s", addr)
}

func mustRead(b *testing.B, path string) []byte {
	b.Helper()
	m, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
}

// realMessages writes four corpus ham messages of 11-13 KB as smtp-source
// -F files (LF line ends; the mbox From_ line and old signatures removed),
// the first two rewritten to come from sender.test and DKIM-signed.
func realMessages(b *testing.B, corpus, dir string, priv ed25519.PrivateKey) []string {
	b.Helper()
	names, _ := filepath.Glob(filepath.Join(corpus, "ham", "*"))
	var out []string
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil || fi.Size() < 11<<10 || fi.Size() > 13<<10 {
			continue
		}
		raw, _ := os.ReadFile(name)
		head, body, ok := bytes.Cut(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
		if !ok || bytes.Contains(body, []byte("\n.\n")) {
			continue
		}
		var hdr []string
		signed := len(out) < 2
		for f := range strings.SplitSeq(strings.ReplaceAll(string(head), "\n\t", "\x00\t"), "\n") {
			f = strings.ReplaceAll(f, "\x00", "\n")
			low := strings.ToLower(f)
			if strings.HasPrefix(f, "From ") || strings.HasPrefix(low, "dkim-signature:") ||
				(signed && (strings.HasPrefix(low, "from:") || strings.HasPrefix(low, "sender:"))) {
				continue
			}
			hdr = append(hdr, f)
		}
		if signed {
			hdr = append([]string{"From: Bench <s@sender.test>"}, hdr...)
		}
		msg := strings.ReplaceAll(strings.Join(hdr, "\n")+"\n\n"+string(body), "\n", "\r\n")
		if signed {
			var sig bytes.Buffer
			if err := dkim.Sign(&sig, strings.NewReader(msg), &dkim.SignOptions{Domain: "sender.test", Selector: "sel", Signer: priv}); err != nil {
				b.Fatal(err)
			}
			msg = sig.String()
		}
		path := filepath.Join(dir, fmt.Sprintf("real%d.eml", len(out)))
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(msg, "\r\n", "\n")), 0o600); err != nil {
			b.Fatal(err)
		}
		out = append(out, path)
		if len(out) == 4 {
			return out
		}
	}
	b.Skipf("fewer than four ham messages of 11-13 KB in %s", corpus)
	return nil
}

func realArgs(files []string) [][]string {
	var a [][]string
	for _, f := range files {
		a = append(a, []string{"-F", f})
	}
	return a
}

// genMessage is a message like smtp-source's generated ones, for the
// latency probe.
func genMessage(size int) []byte {
	var m bytes.Buffer
	m.WriteString("From: s@sender.test\r\nTo: u@example.org\r\nSubject: probe\r\nMessage-ID: <probe@sender.test>\r\n\r\n")
	for m.Len() < size {
		m.WriteString("La de da de da 1.\r\n")
	}
	return m.Bytes()
}

// runSource runs one smtp-source per args entry (the sessions split
// among them) for n messages in all, to the end.
func runSource(addr string, n int, args [][]string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(args))
	for i, a := range args {
		cmdArgs := append([]string{"-s", strconv.Itoa(loadSessions / len(args)), "-m", strconv.Itoa(n / len(args)),
			"-M", "client.sender.test", "-f", "s@sender.test", "-t", "u@example.org"}, a...)
		cmdArgs = append(cmdArgs, addr)
		wg.Go(func() {
			out, err := exec.Command(smtpSource, cmdArgs...).CombinedOutput()
			if err != nil || bytes.Contains(out, []byte("fatal")) || bytes.Contains(out, []byte("warning")) {
				errs[i] = fmt.Errorf("smtp-source %v: %v\n%s", cmdArgs, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// metricName is a load's name as a benchmark metric: words of letters and
// digits joined by dashes ("floor, TCP proxy: real ham (-F)" is
// "floor-tcp-proxy-real-ham-f").
func metricName(load string) string {
	words := strings.FieldsFunc(strings.ToLower(load), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	})
	return strings.Join(words, "-")
}

// gateway is what a load runs through: its address and the process whose
// CPU is counted.
type gateway struct {
	addr string
	pid  int
}

// startFloor starts the floor proxy bin in mode in front of backend,
// stopped when the benchmark ends.
func startFloor(b *testing.B, bin, mode, backend string) gateway {
	b.Helper()
	addr := freeAddr(b)
	cmd := exec.Command(bin, "-mode", mode, "-listen", addr, "-backend", backend)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListen(b, addr)
	return gateway{addr, cmd.Process.Pid}
}

// timedRun is runSource timed, with a latency probe alongside: one more
// session sending probe over and over and timing "." to the reply.
func timedRun(addr string, n int, args [][]string, probe []byte) (time.Duration, []time.Duration, error) {
	stop := make(chan struct{})
	lat := make(chan []time.Duration, 1)
	go func() { lat <- probeLatency(addr, probe, stop) }()
	start := time.Now()
	err := runSource(addr, n, args)
	d := time.Since(start)
	close(stop)
	return d, <-lat, err
}

// probeFor runs the probe alone for d.
func probeFor(addr string, msg []byte, d time.Duration) []time.Duration {
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	return probeLatency(addr, msg, stop)
}

func probeLatency(addr string, msg []byte, stop <-chan struct{}) []time.Duration {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func() (string, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			if len(line) < 4 || line[3] != '-' {
				return line, nil
			}
		}
	}
	if _, err := reply(); err != nil {
		return nil
	}
	fmt.Fprintf(c, "EHLO client.sender.test\r\n")
	if _, err := reply(); err != nil {
		return nil
	}
	var out []time.Duration
	for {
		select {
		case <-stop:
			fmt.Fprintf(c, "QUIT\r\n")
			return out
		default:
		}
		fmt.Fprintf(c, "MAIL FROM:<s@sender.test>\r\n")
		if l, err := reply(); err != nil || !strings.HasPrefix(l, "250") {
			return out
		}
		fmt.Fprintf(c, "RCPT TO:<u@example.org>\r\n")
		if l, err := reply(); err != nil || !strings.HasPrefix(l, "250") {
			return out
		}
		fmt.Fprintf(c, "DATA\r\n")
		if l, err := reply(); err != nil || !strings.HasPrefix(l, "354") {
			return out
		}
		c.Write(msg)
		t0 := time.Now()
		c.Write([]byte(".\r\n"))
		l, err := reply()
		if err != nil || !strings.HasPrefix(l, "250") {
			return out
		}
		out = append(out, time.Since(t0))
		time.Sleep(5 * time.Millisecond)
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// procCPU is the process's user and system CPU in seconds.
func procCPU(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// the stat file's 14th and 15th, in clock ticks (100 a second).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// jiffies are the host's CPU time, busy and in all, in clock ticks.
type jiffies struct{ busy, total float64 }

// hostCPU reads the first line of /proc/stat: whether the cores were
// the limit of a run (busy near total) or the round trips were.
func hostCPU(b *testing.B) jiffies {
	b.Helper()
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var j jiffies
	for i, f := range strings.Fields(line)[1:] {
		if i >= 8 { // guest time, counted in user time already
			break
		}
		v, _ := strconv.ParseFloat(f, 64)
		j.total += v
		if i != 3 && i != 4 { // idle and iowait
			j.busy += v
		}
	}
	return j
}

// procStatus reads a kB field of /proc/PID/status.
func procStatus(b *testing.B, pid int, field string) int {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// idleRSS opens idleConns connections that read the greeting and stay
// silent, and returns the gateway's RSS growth per connection in KiB.
func idleRSS(b *testing.B, pid int, addr string) float64 {
	b.Helper()
	time.Sleep(time.Second)
	before := procStatus(b, pid, "VmRSS")
	conns := make([]net.Conn, 0, idleConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idleConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("idle connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220") {
			b.Fatalf("idle connection %d: greeting %q, %v", i, line, err)
		}
	}
	time.Sleep(time.Second)
	after := procStatus(b, pid, "VmRSS")
	return float64(after-before) / idleConns
}
