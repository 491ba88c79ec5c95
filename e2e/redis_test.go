package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailguard/classifier/redisstore"
	"mailguard/internal/testutil/redistest"
)

// Shared state on Redis: two gateways behind one MX, each with its own
// data_dir, share the token store and the quarantine through one
// redis-server.

// redisSettings: tag Bayesian spam (BAYES_99 is 7 points, BAYES_999 10),
// quarantine GTUBE (1000), refuse nothing.
func redisSettings(url string) map[string]any {
	return map[string]any{
		"store":      url,
		"thresholds": map[string]any{"tag": 5, "quarantine": 500, "reject": 5000},
		"classifier": map[string]any{"min_learned": 10},
	}
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestRedisSharedInstances(t *testing.T) {
	srv := redistest.Start(t)
	a := Start(t, Options{Settings: redisSettings(srv.URL(0))})
	b := Start(t, Options{Settings: redisSettings(srv.URL(0))})

	// Spam and ham learnt through A's configuration...
	spamMbox, hamDir, _, _ := smallCorpus(t, t.TempDir(), 60)
	trainThrough(t, a, spamMbox, hamDir)
	// ...are known to B, which has never been trained.
	rng := rand.New(rand.NewPCG(11, 11))
	spamQ := send250(t, b, crlf(e2eMessage(rng, true, "bspam")))
	hamQ := send250(t, b, crlf(e2eMessage(rng, false, "bham")))
	if got := b.Backend.Wait(2, 10*time.Second); len(got) != 2 {
		t.Fatalf("B's backend got %d messages, want 2", len(got))
	}
	// B's decision lines name the Bayes test: the counts came from A's
	// training.
	// The decision line follows the backend's reply: wait for it.
	if _, ok := b.WaitLog(`msg=relayed .*queue_id=`+spamQ+` .*tests="BAYES_99`, 10*time.Second); !ok {
		t.Errorf("spam learnt through A is not BAYES_99x on B:\n%s", b.Log())
	}
	if _, ok := b.WaitLog(`msg=relayed .*queue_id=`+hamQ+` .*tests="BAYES_00`, 10*time.Second); !ok {
		t.Errorf("ham learnt through A is not BAYES_00 on B:\n%s", b.Log())
	}

	// A message held by A is listed, released and learnt through B.
	if r := sendGTUBE(t, a, "held by A"); r.Code != 250 {
		t.Fatalf("GTUBE to A: %s", r)
	}
	l := quarantineList(t, b)
	if len(l) != 1 || l[0].Subject != "held by A" {
		t.Fatalf("B lists %+v, want A's held message", l)
	}
	id := l[0].ID
	if out, errOut, code := Run(t, nil, "quarantine", "-config", b.ConfigPath, "learn", id, "ham"); code != 0 || !strings.Contains(out, "learnt "+id+" as ham") {
		t.Errorf("learn through B: exit %d: %s %s", code, out, errOut)
	}
	if out, errOut, code := Run(t, nil, "quarantine", "-config", b.ConfigPath, "release", id); code != 0 || !strings.Contains(out, "released "+id) {
		t.Fatalf("release through B: exit %d: %s %s", code, out, errOut)
	}
	rel := b.Backend.Wait(3, 10*time.Second)
	if len(rel) != 3 || !strings.Contains(string(rel[2].Data), "Subject: held by A") {
		t.Fatalf("B's backend has %d messages after the release", len(rel))
	}
	if n := a.Backend.Count(); n != 0 {
		t.Errorf("A's backend got %d messages; the release went through B", n)
	}
	if l := quarantineList(t, a); len(l) != 0 {
		t.Errorf("A still lists the released message: %+v", l)
	}
}

func send250(t *testing.T, g *Gateway, msg []byte) string {
	t.Helper()
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	r := c.Send("a@example.com", []string{"u@example.org"}, msg)
	if r.Code != 250 {
		t.Fatalf("send: %s, want 250", r)
	}
	m := regexp.MustCompile(`queued as ([0-9A-F]+)$`).FindStringSubmatch(r.Text)
	if m == nil {
		t.Fatalf("reply %q names no queue id", r.Text)
	}
	return m[1]
}

// Redis down: the classifier gives no opinion (logged) and mail still
// flows; a message to hold is refused for now (451 4.3.0), never lost;
// once Redis is back, both work again without a restart of the gateway.
func TestRedisUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	g := Start(t, Options{Settings: merge(redisSettings(srv.URL(0)), map[string]any{"metrics": map[string]any{"listen": "127.0.0.1:0"}})})
	base := g.MetricsURL()
	spamMbox, hamDir, _, _ := smallCorpus(t, t.TempDir(), 20)
	trainThrough(t, g, spamMbox, hamDir)
	srv.Stop()
	rng := rand.New(rand.NewPCG(3, 3))
	send250(t, g, crlf(e2eMessage(rng, false, "down1")))
	if got := g.Backend.Wait(1, 10*time.Second); len(got) != 1 {
		t.Fatalf("with Redis down the backend got %d messages, want 1", len(got))
	}
	if _, ok := g.WaitLog(`classifier failed; no opinion`, 10*time.Second); !ok {
		t.Errorf("no log line for the classifier without its store:\n%s", g.Log())
	}
	if r := sendGTUBE(t, g, "while down"); r.Code != 451 || r.Enhanced != "4.3.0" {
		t.Errorf("GTUBE with the quarantine down: %s, want 451 4.3.0", r)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "quarantine store") {
		t.Errorf("/readyz with Redis down: %d %s, want 503 naming the store", code, body)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{"mailguard_classifier_errors_total 2", "mailguard_classifier_store_up 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics with Redis down lacks %q", want)
		}
	}
	srv.Restart(t)
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after Redis came back: %d %s", code, body)
	}
	if r := sendGTUBE(t, g, "after restart"); r.Code != 250 {
		t.Fatalf("GTUBE after Redis came back: %s, want 250", r)
	}
	if l := quarantineList(t, g); len(l) != 1 || l[0].Subject != "after restart" {
		t.Errorf("quarantine after restart: %+v", l)
	}
}

// store copy moves a site's token database and quarantine from the
// embedded store to Redis, where a gateway uses them, and back to a new
// data_dir.
func TestStoreCopy(t *testing.T) {
	srv := redistest.Start(t)
	// An embedded site: trained, one message held.
	a := Start(t, Options{Settings: map[string]any{
		"thresholds": map[string]any{"tag": 5, "quarantine": 500, "reject": 5000},
		"classifier": map[string]any{"min_learned": 10},
	}})
	spamMbox, hamDir, testDir, want := smallCorpus(t, t.TempDir(), 40)
	trainThrough(t, a, spamMbox, hamDir)
	if r := sendGTUBE(t, a, "held before the move"); r.Code != 250 {
		t.Fatalf("GTUBE: %s", r)
	}
	a.Stop()

	out, errOut, code := Run(t, nil, "store", "copy", "-config", a.ConfigPath, "embedded", srv.URL(0))
	if code != 0 || !strings.Contains(out, "(40 spam and 40 ham learnt)") || !strings.Contains(out, "copied 1 quarantined messages (0 were there already)") {
		t.Fatalf("store copy to Redis: exit %d\n%s%s", code, out, errOut)
	}
	// Not a terminal: no progress bar on a pipe.
	if strings.Contains(errOut, "\r") {
		t.Errorf("progress bar drawn on a pipe: %q", errOut)
	}
	// Copying again: the quarantine is there already, the tokens refused.
	out, errOut, code = Run(t, nil, "store", "copy", "-config", a.ConfigPath, "-tokens=false", "embedded", srv.URL(0))
	if code != 0 || !strings.Contains(out, "copied 0 quarantined messages (1 were there already)") {
		t.Errorf("second copy of the quarantine: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code = Run(t, nil, "store", "copy", "-config", a.ConfigPath, "-quarantine=false", "embedded", srv.URL(0)); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Errorf("second copy of the tokens: exit %d: %s", code, errOut)
	}

	// A gateway on Redis knows what the embedded site learnt and held.
	b := Start(t, Options{Settings: redisSettings(srv.URL(0))})
	if l := quarantineList(t, b); len(l) != 1 || l[0].Subject != "held before the move" {
		t.Fatalf("quarantine on Redis after the copy: %+v", l)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	q := send250(t, b, crlf(e2eMessage(rng, true, "moved")))
	if _, ok := b.WaitLog(`queue_id=`+q+` .*tests="BAYES_99`, 10*time.Second); !ok {
		t.Errorf("spam learnt before the move is not BAYES_99x on Redis:\n%s", b.Log())
	}

	// And back, into a new data_dir.
	dir := t.TempDir()
	cfg := WriteConfig(t, dir, "back.yaml", map[string]any{"data_dir": dir + "/data", "classifier": map[string]any{"min_learned": 10}})
	out, errOut, code = Run(t, nil, "store", "copy", "-config", cfg, srv.URL(0), "embedded")
	if code != 0 || !strings.Contains(out, "(40 spam and 40 ham learnt)") || !strings.Contains(out, "copied 1 quarantined messages") {
		t.Fatalf("store copy back: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = Run(t, nil, "classify", "-config", cfg, testDir)
	if code != 0 {
		t.Fatalf("classify after the copy back: exit %d: %s", code, errOut)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 || want[f[0]] != f[1] {
			t.Errorf("after the copy back: %q, want %s", l, want[f[0]])
		}
	}
	out, _, code = Run(t, nil, "quarantine", "-config", cfg, "list")
	if code != 0 || !strings.Contains(out, "held before the move") {
		t.Errorf("quarantine list after the copy back: exit %d\n%s", code, out)
	}
}

// Redis is killed and restarted while a few thousand messages come in, a
// third of them to be held: every message a client got 250 for is in the
// backend or the quarantine exactly once; those refused for now (451)
// sent again after the restart, as an MTA would, are stored exactly once
// too. Redis runs as a site keeping held mail must run it: append-only,
// fsync always.
func TestRedisRestartUnderLoad(t *testing.T) {
	const total, workers = 2000, 8
	srv := redistest.StartDurable(t)
	settings := redisSettings(srv.URL(0))
	// One busy peer sends it all; the per-client rates have tests of
	// their own and must not refuse it here.
	settings["limits"] = map[string]any{"connection_rate": 1000000, "message_rate": 1000000, "recipient_rate": 1000000}
	g := Start(t, Options{Settings: settings})
	msg := func(i int) []byte {
		body := "Nothing to see here.\r\n"
		if i%3 == 0 {
			body = "Held. " + gtube + "\r\n"
		}
		return []byte(fmt.Sprintf("From: a@example.com\r\nTo: u@example.org\r\nSubject: load-%d\r\nDate: %s\r\nMessage-ID: <load-%d@example.com>\r\n\r\n%s",
			i, time.Now().UTC().Format(time.RFC1123Z), i, body))
	}
	send := func(i int) int {
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		return c.Send("a@example.com", []string{"u@example.org"}, msg(i)).Code
	}
	codes := make([]int, total)
	var done atomic.Int64
	killAt, restartAt := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				codes[i] = send(i)
				switch n := done.Add(1); {
				case n >= 1200:
					once2.Do(func() { close(restartAt) })
				case n >= 600:
					once1.Do(func() { close(killAt) })
				}
			}
		}()
	}
	go func() {
		for i := range total {
			jobs <- i
		}
		close(jobs)
	}()
	// A worker that fails ends its goroutine: never wait for a count
	// that can no longer be reached.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for _, step := range []struct {
		at chan struct{}
		do func()
	}{{killAt, srv.Stop}, {restartAt, func() { srv.Restart(t) }}} {
		select {
		case <-step.at:
			step.do()
		case <-finished:
			t.Fatalf("the clients stopped after %d of %d messages", done.Load(), total)
		}
	}
	<-finished

	var retry []int
	count := map[int]int{}
	for i, c := range codes {
		switch c {
		case 250:
			count[i] = 0
		case 451:
			retry = append(retry, i)
		default:
			t.Fatalf("message %d: reply %d, want 250 or 451", i, c)
		}
	}
	t.Logf("%d messages: %d answered 250, %d answered 451 while Redis was down", total, total-len(retry), len(retry))
	if len(retry) == 0 {
		t.Error("no message met the dead Redis: the kill came too late")
	}
	for _, i := range retry {
		if c := send(i); c != 250 {
			t.Fatalf("message %d sent again after the restart: %d", i, c)
		}
		count[i] = 0
	}
	// A commit the kill cut off may have landed though its client heard
	// 451: the gateway removes such an entry once Redis answers, before
	// the message sent again is held.
	t.Logf("%d commits went unanswered; %d of them had landed and were removed",
		len(g.LogLines(`err="quarantine: store entry: `)), len(g.LogLines(`removed an entry stored though its client was told 451`)))
	subj := regexp.MustCompile(`(?m)^Subject: load-(\d+)\r?$`)
	seen := func(where string, s string) {
		var i int
		if _, err := fmt.Sscan(s, &i); err != nil {
			t.Fatalf("%s: subject %q", where, s)
		}
		count[i]++
	}
	for _, m := range g.Backend.Wait(total, 30*time.Second) {
		if s := subj.FindSubmatch(m.Data); s != nil {
			seen("backend", string(s[1]))
		}
	}
	for _, e := range quarantineList(t, g) {
		seen("quarantine", strings.TrimPrefix(e.Subject, "load-"))
	}
	lost, twice := 0, 0
	for i, n := range count {
		switch {
		case n == 0:
			lost++
			t.Logf("message %d (reply %d) is nowhere", i, codes[i])
		case n > 1:
			twice++
			t.Logf("message %d (reply %d) is stored %d times", i, codes[i], n)
		}
	}
	if lost > 0 || twice > 0 || len(count) != total {
		t.Errorf("of %d messages answered 250: %d lost, %d stored twice", len(count), lost, twice)
	}
}

// A message held by A is released through B's review web UI, in Chromium:
// delivered by B, learnt as ham in the shared token store, gone from A's
// quarantine.
func TestRedisWebReviewAcrossInstances(t *testing.T) {
	ctx := browser(t)
	srv := redistest.Start(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "web-users")
	if err := os.WriteFile(users, []byte(userLine(t, "alice", "correct horse")), 0o600); err != nil {
		t.Fatal(err)
	}
	a := Start(t, Options{Settings: redisSettings(srv.URL(0))})
	b := Start(t, Options{Settings: merge(redisSettings(srv.URL(0)), map[string]any{
		"web": map[string]any{"listen": "127.0.0.1:0", "users_file": users},
	})})
	line, ok := b.WaitLog(`msg=listening service=web addr=`, 10*time.Second)
	if !ok {
		t.Fatalf("B's web UI did not start:\n%s", b.Log())
	}
	base := "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)[1]
	id := send(t, a, heldMessage("Held by A, reviewed on B", "text/plain; charset=utf-8", "Figures attached. "+gtube+"\r\n"))

	st, err := redisstore.Open(redisstore.Config{URL: srv.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before, err := st.Totals(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	click := func(sel string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		return resp.Status
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"),
		chromedp.SetValue(chromedp.ID("user"), "alice"), chromedp.SetValue(chromedp.ID("password"), "correct horse")); err != nil {
		t.Fatal(err)
	}
	if st := click("form button[type=submit]"); st != http.StatusOK {
		t.Fatalf("login on B: status %d", st)
	}
	if !strings.Contains(text("table.list tbody"), id) {
		t.Fatalf("B's list lacks A's held %s:\n%s", id, text("main"))
	}
	click("table.list td.subj a")
	if !strings.Contains(text("h1.subject"), "Held by A, reviewed on B") {
		t.Fatalf("message view on B:\n%s", text("main"))
	}
	if st := click(".decide button.good"); st != http.StatusOK || !strings.Contains(text(".notice"), "released as not spam") {
		t.Fatalf("not spam on B: status %d, page:\n%s", st, text("main"))
	}
	got := b.Backend.Wait(1, 30*time.Second)
	if len(got) != 1 || !strings.Contains(string(got[0].Data), "released by alice") {
		t.Fatalf("B's backend has %d messages after Not spam", len(got))
	}
	after, err := st.Totals(context.Background())
	if err != nil || after.Ham != before.Ham+1 || after.Spam != before.Spam {
		t.Errorf("shared token totals after Not spam: %+v (%v), before %+v", after, err, before)
	}
	if l := quarantineList(t, a); len(l) != 0 {
		t.Errorf("A still lists the message released on B: %+v", l)
	}
}

// trainThrough runs `mailguard train` with g's configuration on the spam
// mbox and the ham folder.
func trainThrough(t *testing.T, g *Gateway, spamMbox, hamDir string) {
	t.Helper()
	for _, args := range [][]string{{"-spam", spamMbox}, {"-ham", hamDir}} {
		if out, errOut, code := Run(t, nil, append([]string{"train", "-config", g.ConfigPath}, args...)...); code != 0 {
			t.Fatalf("train %v with %s: exit %d\n%s%s", args, g.ConfigPath, code, out, errOut)
		}
	}
}
