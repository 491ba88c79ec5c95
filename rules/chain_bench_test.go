package rules

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"mailguard/classifier"
	"mailguard/filters"
	"mailguard/internal/testutil/corpus"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// chainZone answers what the chain asks about the benchmark's client
// (127.0.0.1, client.sender.test) and sender domain (sender.test): three
// DNSBLs and an RHSBL not listing them, MX, A, SPF, DMARC and the PTR.
const chainZone = `$TTL 300
test.                          IN SOA ns.test. hostmaster.test. 1 3600 600 86400 120
sender.test.                   IN MX  10 client.sender.test.
sender.test.                   IN A   127.0.0.1
client.sender.test.            IN A   127.0.0.1
sender.test.                   IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc.sender.test.            IN TXT "v=DMARC1; p=reject"
example.org.                   IN MX  10 mx.example.org.
mx.example.org.                IN A   192.0.2.20
1.0.0.127.in-addr.arpa.        IN PTR client.sender.test.
2.0.0.127.zen.test.            IN A   127.0.0.2
`

// BenchmarkChainEveryFilter runs one corpus message an op through the
// whole chain the load run configures (3 DNSBLs, an RHSBL, sender
// verification, SPF/DKIM/DMARC, a recipients file, the message checks,
// Bayes trained on nine tenths of the corpus), connection to end of DATA,
// with a warm DNS cache: allocs/op and B/op are per message, and
// msgs/cpu-s is messages per second of the process's CPU.
func BenchmarkChainEveryFilter(b *testing.B) {
	dns := dnstest.Start(b, chainZone)
	dir := b.TempDir()
	rcpts := filepath.Join(dir, "recipients")
	if err := os.WriteFile(rcpts, []byte("u@example.org\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := Parse("bench.yaml", []byte(fmt.Sprintf(`
data_dir: %q
domains: [example.org]
dns: {timeout: 2s}
dnsbl: [{zone: zen.test}, {zone: bl.test}, {zone: psbl.test}]
rhsbl: [{zone: dbl.test}]
sender_verify: true
recipients: {file: %q}
sender_auth: {enabled: true}
classifier: {enabled: true}
thresholds: {tag: 5, quarantine: 50, reject: 60}
`, filepath.Join(dir, "data"), rcpts)))
	if err != nil {
		b.Fatal(err)
	}
	res, err := resolver.New(resolver.Config{Server: dns.Addr(), Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	d := &Deps{Resolver: res, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.Cleanup(func() { d.Close() })
	chain, err := BuildChain(cfg, d)
	if err != nil {
		b.Fatal(err)
	}
	st, err := TokenStore(cfg, d)
	if err != nil {
		b.Fatal(err)
	}
	var docs []classifier.Doc
	var test [][]byte
	ham := corpus.Read(b, "ham", 0)
	for i, m := range append(ham, corpus.Read(b, "spam", 0)...) {
		if i%10 == 0 {
			// As an MTA sends it: no mbox From_ line, CRLF line ends.
			if bytes.HasPrefix(m, []byte("From ")) {
				m = m[bytes.IndexByte(m, '\n')+1:]
			}
			test = append(test, bytes.ReplaceAll(bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
			continue
		}
		docs = append(docs, classifier.Doc{Digest: classifier.Digest(m), Spam: i >= len(ham), Tokens: classifier.Tokenize(m)})
	}
	if _, err := st.Learn(context.Background(), docs...); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	one := func(i int) filters.Outcome {
		conn := &filters.ClientConn{ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 40000, Helo: "client.sender.test", ESMTP: true, Log: log}
		if v := chain.Connect(ctx, conn); v.Action != filters.Continue {
			b.Fatalf("connect: %+v", v)
		}
		if v := chain.Helo(ctx, conn); v.Action != filters.Continue {
			b.Fatalf("helo: %+v", v)
		}
		t := filters.NewTransaction(conn, fmt.Sprintf("Q%d", i))
		t.MailFrom = "s@sender.test"
		if v := chain.Mail(ctx, t); v.Action != filters.Continue {
			b.Fatalf("mail: %+v", v)
		}
		if v := chain.Rcpt(ctx, t, "u@example.org"); v.Action != filters.Continue {
			b.Fatalf("rcpt: %+v", v)
		}
		t.Rcpts = append(t.Rcpts, "u@example.org")
		return chain.Data(ctx, t, filters.NewMessage(test[i%len(test)]))
	}
	// Warm up: the DNS cache, the token snapshot. The chain must score
	// with every part: Bayes and SPF among the tests.
	scored := 0
	for i := range len(test) {
		if hasBayesTest(one(i)) {
			scored++
		}
	}
	if scored < len(test)/2 {
		b.Fatalf("only %d of %d messages scored by Bayes", scored, len(test))
	}
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	i := 0
	for b.Loop() {
		one(i)
		i++
	}
	b.ReportMetric(float64(i)/(cpuSeconds()-cpu0), "msgs/cpu-s")
}

// cpuSeconds is the process's user and system CPU time: on a shared
// machine it measures the work, where wall time measures the neighbours.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
