package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/redistest"
	"mailguard/internal/testutil/smtptest"
	"mailguard/redisconn"
)

// Greylisting, rate limits and pregreet passes on one Redis: two gateways
// behind one MX count and remember as one.

// A triplet greylisted by A and retried through B after the delay passes,
// as when a sending MTA retries at the other MX; and a client that passed
// the pregreet test at A is greeted at once by B.
func TestRedisSharedGreylist(t *testing.T) {
	srv := redistest.Start(t)
	settings := map[string]any{
		"store":    srv.URL(0),
		"greylist": map[string]any{"enabled": true, "delay": "1s"},
		"limits":   map[string]any{"greet_delay": "300ms"},
	}
	a := Start(t, Options{Settings: settings})
	b := Start(t, Options{Settings: settings})
	msg := []byte("From: a@example.com\r\nSubject: retried at the other MX\r\n\r\nbody\r\n")

	// The pregreet test: at A the banner comes in two parts, and the
	// client that waited for it is remembered for B.
	if first := bannerFirstLine(t, a.Addr); !strings.HasPrefix(first, "220-") {
		t.Fatalf("A's banner to a new client starts %q, want the pregreet test's 220-", first)
	}
	if first := bannerFirstLine(t, b.Addr); !strings.HasPrefix(first, "220 ") {
		t.Errorf("B's banner to the client that passed at A starts %q, want it whole at once (220 )", first)
	}

	try := func(g *Gateway) smtptest.Reply {
		c := g.Dial(smtptest.DialOptions{Source: "127.0.0.2"})
		defer c.Close()
		return c.Send("a@example.com", []string{"u@example.org"}, msg)
	}
	if r := try(a); r.Code != 451 || r.Enhanced != "4.7.1" || !strings.Contains(r.Text, "Greylisted") {
		t.Fatalf("first attempt through A: %s, want 451 4.7.1 Greylisted", r)
	}
	// At once through B: B knows the triplet A saw (too early, not new).
	if r := try(b); r.Code != 451 {
		t.Fatalf("immediate retry through B: %s, want 451", r)
	}
	if _, ok := b.WaitLog(`retry too early for triplet 127\.0\.0\.0/24/a@example\.com/u@example\.org`, 10*time.Second); !ok {
		t.Fatalf("B did not see A's triplet (no \"retry too early\" line):\n%s", b.Log())
	}
	time.Sleep(time.Second) // greylist.delay
	if r := try(b); r.Code != 250 {
		t.Fatalf("retry through B after the delay A started: %s, want 250", r)
	}
	if got := b.Backend.Wait(1, 10*time.Second); len(got) != 1 {
		t.Fatalf("B's backend got %d messages, want 1", len(got))
	}
	// The pass is remembered for A too.
	if r := try(a); r.Code != 250 {
		t.Errorf("the triplet B passed, through A: %s, want 250", r)
	}
}

// bannerFirstLine connects from 127.0.0.2, reads the whole banner
// without talking first and returns its first line.
func bannerFirstLine(t *testing.T, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	first, err := r.ReadString('\n')
	for line := first; err == nil && len(line) > 3 && line[3] == '-'; {
		line, err = r.ReadString('\n')
	}
	if err != nil {
		t.Fatalf("banner: %v", err)
	}
	c.Write([]byte("QUIT\r\n"))
	return first
}

// A client's messages are counted across both instances: with
// limits.message_rate 3, the fourth message of the hour is refused
// whichever instance it reaches, and another client is not affected.
func TestRedisSharedRateLimit(t *testing.T) {
	srv := redistest.Start(t)
	settings := map[string]any{
		"store":  srv.URL(0),
		"limits": map[string]any{"message_rate": 3},
	}
	a := Start(t, Options{Settings: settings})
	b := Start(t, Options{Settings: settings})
	msg := []byte("From: a@example.com\r\nSubject: counted\r\n\r\nbody\r\n")
	send := func(g *Gateway, source string) smtptest.Reply {
		c := g.Dial(smtptest.DialOptions{Source: source})
		defer c.Close()
		return c.Send("a@example.com", []string{"u@example.org"}, msg)
	}
	for i, g := range []*Gateway{a, b, a} {
		if r := send(g, "127.0.0.4"); r.Code != 250 {
			t.Fatalf("message %d: %s, want 250", i+1, r)
		}
	}
	r := send(b, "127.0.0.4")
	if r.Code != 450 || r.Enhanced != "4.7.1" {
		t.Fatalf("fourth message in the hour, through B: %s, want 450 4.7.1 (3 counted through A and B)", r)
	}
	if _, ok := b.WaitLog(`test=message_rate`, 10*time.Second); !ok {
		t.Errorf("no message_rate refusal in B's log:\n%s", b.Log())
	}
	if r := send(a, "127.0.0.5"); r.Code != 250 {
		t.Errorf("another client through A: %s, want 250", r)
	}
}

// Redis down: rate limits do not apply and greylisting passes mail (as
// postgrey does on a database error); the outage is logged once, however
// many decisions it touched, and counted.
func TestRedisDownFailsOpen(t *testing.T) {
	srv := redistest.Start(t)
	g := Start(t, Options{Settings: map[string]any{
		"store":    srv.URL(0),
		"greylist": map[string]any{"enabled": true},
		"limits":   map[string]any{"message_rate": 1},
	}})
	srv.Stop()
	for i := range 3 {
		c := g.Dial(smtptest.DialOptions{Source: "127.0.0.6"})
		r := c.Send("a@example.com", []string{"u@example.org"}, []byte("From: a@example.com\r\nSubject: down\r\n\r\nbody\r\n"))
		c.Close()
		if r.Code != 250 {
			t.Fatalf("message %d with Redis down: %s, want 250 (rate limit and greylisting fail open)", i+1, r)
		}
	}
	if n := len(g.LogLines(`anvil store failed`)); n != 1 {
		t.Errorf("%d outage lines for 3 messages, want 1:\n%s", n, g.Log())
	}
	if n := len(g.LogLines(`rate limit store failed`)); n != 0 {
		t.Errorf("%d warnings per rate-limited event, want none past the outage line:\n%s", n, g.Log())
	}
	if _, ok := g.WaitLog(`greylist store failed; passing`, 10*time.Second); !ok {
		t.Errorf("greylisting's pass is not logged:\n%s", g.Log())
	}
}

// A Redis that hangs (stopped, its connections open) holds no session for
// long: messages are answered 250 without the Bayes score, rate limits or
// greylisting; the token store and the anvil store (rate limits,
// greylisting) are each asked once and then skipped until a probe finds
// Redis answering (one outage line each, not one wait per call: the
// sessions after the first are told "not asked"); a message to hold is
// answered 451 4.3.0; /readyz and the store gauge say so. Once Redis
// continues, the Bayes score and greylisting come back by themselves.
func TestRedisHungFailsOpen(t *testing.T) {
	srv := redistest.Start(t)
	g := Start(t, Options{Settings: merge(redisSettings(srv.URL(0)), map[string]any{
		"greylist": map[string]any{"enabled": true, "delay": "1s"},
		"limits":   map[string]any{"message_rate": 1000},
		"metrics":  map[string]any{"listen": "127.0.0.1:0"},
		// The callers' lines for a rate limit that did not apply.
		"log": map[string]any{"level": "debug"},
	})})
	base := g.MetricsURL()
	spamMbox, hamDir, _, _ := smallCorpus(t, t.TempDir(), 20)
	trainThrough(t, g, spamMbox, hamDir)
	srv.Pause()
	start := time.Now()
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 4
	for i := range n {
		c := g.Dial(smtptest.DialOptions{Source: "127.0.0.7"})
		r := c.Send("a@example.com", []string{"u@example.org"}, crlf(e2eMessage(rng, true, fmt.Sprint("hung", i))))
		c.Close()
		if r.Code != 250 {
			t.Fatalf("message %d with Redis hung: %s, want 250", i+1, r)
		}
	}
	got := g.Backend.Wait(n, 30*time.Second)
	if len(got) != n {
		t.Fatalf("the backend got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if st := headerValues(m.Data, "X-Spam-Status"); len(st) != 1 || strings.Contains(st[0], "BAYES_") {
			t.Errorf("message %d: X-Spam-Status %q, want it without a Bayes test", i+1, st)
		}
	}
	if r := sendGTUBE(t, g, "while hung"); r.Code != 451 || r.Enhanced != "4.3.0" {
		t.Errorf("GTUBE with Redis hung: %s, want 451 4.3.0", r)
	}
	t.Logf("%d messages and a GTUBE through a gateway whose Redis hangs took %v", n, time.Since(start).Round(time.Millisecond))
	if n := len(g.LogLines(`token store failed`)); n != 1 {
		t.Errorf("%d token store outage lines, want 1:\n%s", n, g.Log())
	}
	if n := len(g.LogLines(`anvil store failed`)); n != 1 {
		t.Errorf("%d anvil outage lines, want 1:\n%s", n, g.Log())
	}
	// Each anvil call a session made shows in a line of its caller
	// (greylisting's pass, the rate limit's debug line) with the store's
	// error: Redis's timeout where it was asked, "not asked" where the
	// breaker held the call back. Only the call that found the outage and
	// the probes (none, unless the run outlasted a probe interval) may
	// have waited for Redis.
	anvilCalls := g.LogLines(`(greylist store failed; passing|rate limit store failed).* err=`)
	probes := len(g.LogLines(`anvil store probe: still failing`))
	asked, heldBack, greyHeld := 0, 0, 0
	for _, l := range anvilCalls {
		if strings.Contains(l, "not asked: Redis failing") {
			heldBack++
			if strings.Contains(l, "greylist store failed") {
				greyHeld++
			}
		} else {
			asked++
		}
	}
	if asked > 1+probes {
		t.Errorf("%d anvil calls waited for the hung Redis, want at most 1 and the %d probes:\n%s", asked, probes, strings.Join(anvilCalls, "\n"))
	}
	if greyHeld < n-1-probes {
		t.Errorf("greylisting was held back for %d of %d messages, want at least %d:\n%s", greyHeld, n, n-1-probes, strings.Join(anvilCalls, "\n"))
	}
	t.Logf("anvil calls with Redis hung: %d asked it, %d held back, %d probes", asked, heldBack, probes)
	if n := len(g.LogLines(`classifier failed; no opinion`)); n < 4 {
		t.Errorf("%d messages classified without their Bayes score logged, want %d:\n%s", n, 4, g.Log())
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "quarantine store") {
		t.Errorf("/readyz with Redis hung: %d %s, want 503 naming the store", code, body)
	}
	// The gauge's own line: its HELP text starts with "1 when".
	gauge := regexp.MustCompile(`(?m)^mailguard_classifier_store_up (\d)$`)
	storeUp := func() string {
		_, body := get(t, base+"/metrics")
		if m := gauge.FindSubmatch(body); m != nil {
			return string(m[1])
		}
		return "(absent)"
	}
	if v := storeUp(); v != "0" {
		t.Errorf("mailguard_classifier_store_up with Redis hung: %s, want 0", v)
	}

	// Redis continues: a scrape past the probe interval finds it, and
	// mail is scored with Bayes again, without a restart.
	srv.Resume()
	resumed := time.Now()
	up := false
	for range 60 {
		if storeUp() == "1" {
			up = true
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !up {
		t.Fatalf("mailguard_classifier_store_up stays 0 after Redis continued:\n%s", g.Log())
	}
	// Greylisting works again too, from the anvil store's first probe
	// after Redis continued on: the first attempt is refused for now, the
	// retry after the delay passes.
	if d := time.Until(resumed.Add(redisconn.DefaultProbeInterval)); d > 0 {
		time.Sleep(d)
	}
	after := crlf(e2eMessage(rng, true, "after"))
	c := g.DialFrom("127.0.0.2")
	r := c.Send("a@example.com", []string{"u@example.org"}, after)
	c.Close()
	if r.Code != 451 || r.Enhanced != "4.7.1" {
		t.Errorf("first attempt after Redis continued: %s, want 451 4.7.1 (greylisted)", r)
	}
	time.Sleep(time.Second) // greylist.delay
	q := send250(t, g, after)
	if _, ok := g.WaitLog(`msg=relayed .*queue_id=`+q+` .*tests="BAYES_99`, 10*time.Second); !ok {
		t.Errorf("spam after Redis continued is not BAYES_99x:\n%s", g.Log())
	}
	if n := len(g.LogLines(`token store answers again`)); n != 1 {
		t.Errorf("%d lines for the end of the outage, want 1:\n%s", n, g.Log())
	}
	if n := len(g.LogLines(`anvil store answers again`)); n != 1 {
		t.Errorf("%d lines for the end of the anvil store's outage, want 1:\n%s", n, g.Log())
	}
}
