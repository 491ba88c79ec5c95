package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
)

// chromiumPath is Debian's chromium, which `make test` installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the web tests write their screenshots: the
// directory in MAILGUARD_SCREENSHOTS, else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("MAILGUARD_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser starts a headless Chromium with a fresh profile and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else {
			t.Skipf("chromium is not installed (%s): `make deps` installs it; skipping the browser test", chromiumPath)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelT := chromedp.NewContext(actx)
	ctx, cancelD := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelD(); cancelT(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tokenTotals reads the learnt message counts from the gateway's token
// database.
func tokenTotals(t *testing.T, g *Gateway) classifier.Totals {
	t.Helper()
	st, err := boltstore.Open(boltstore.Config{Path: filepath.Join(g.Dir, "data", boltstore.FileName), ReadOnly: true})
	if err != nil {
		return classifier.Totals{}
	}
	defer st.Close()
	tot, err := st.Totals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tot
}

func heldMessage(subject, contentType, body string) []byte {
	date := time.Now().UTC().Format(time.RFC1123Z)
	return []byte("From: Promo <a@example.com>\r\nTo: u@example.org\r\nSubject: " + subject + "\r\n" +
		"Date: " + date + "\r\nMessage-ID: <web-" + fmt.Sprint(time.Now().UnixNano()) + "@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\n\r\n" + body)
}

func send(t *testing.T, g *Gateway, msg []byte) string {
	t.Helper()
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client2.example.com")
	r := c.Send("a@example.com", []string{"u@example.org"}, msg)
	if r.Code != 250 {
		t.Fatalf("send: %s, want 250 (held)", r)
	}
	return RequireQueueID(t, r)
}

// TestWebReview drives the review UI in headless Chromium against the
// running gateway, as a reviewer would.
func TestWebReview(t *testing.T) {
	ctx := browser(t)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)

	// A server standing for the Internet a spam's HTML loads from: it must
	// never hear from the browser while the message is shown.
	var tracked atomic.Int32
	var trackedPaths atomic.Value
	tracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tracked.Add(1)
		trackedPaths.Store(r.URL.Path)
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a"))
	}))
	defer tracker.Close()

	dir := t.TempDir()
	users := filepath.Join(dir, "web-users")
	if err := os.WriteFile(users, []byte("# reviewers\n"+userLine(t, "alice", "correct horse")), 0o600); err != nil {
		t.Fatal(err)
	}
	g := Start(t, Options{Settings: map[string]any{
		"thresholds": map[string]any{"tag": 5, "quarantine": 10, "reject": 5000},
		"web":        map[string]any{"listen": "127.0.0.1:0", "users_file": users},
		"classifier": map[string]any{"min_learned": 2},
	}})
	// A little training, so the classifier has an opinion to show.
	for class, words := range map[string]string{
		"spam": "cheap watches replica discount offer winner casino pills",
		"ham":  "quarterly report figures meeting agenda minutes budget review",
	} {
		cdir := filepath.Join(dir, class)
		os.MkdirAll(cdir, 0o755)
		for i := range 3 {
			msg := fmt.Sprintf("From: x%d@example.net\nSubject: %s %d\n\n%s %s\n", i, class, i, words, words)
			os.WriteFile(filepath.Join(cdir, fmt.Sprint(i)), []byte(msg), 0o644)
		}
		if _, errOut, code := Run(t, nil, "train", "-config", g.ConfigPath, "-"+class, cdir); code != 0 {
			t.Fatalf("train -%s: exit %d: %s", class, code, errOut)
		}
	}
	line := g.LogLines(`msg=listening service=web addr=`)
	if len(line) == 0 {
		t.Fatalf("the web UI did not start:\n%s", g.Log())
	}
	base := "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line[0])[1]

	good := send(t, g, heldMessage("Quarterly report, please release", "text/plain; charset=utf-8",
		"Hi,\r\n\r\nthe figures are attached. "+gtube+"\r\n\r\nRegards\r\n"))
	bad := send(t, g, heldMessage("=?utf-8?q?Cheap_w=C3=A4tches?=", "text/plain; charset=utf-8", "Buy now! "+gtube+"\r\n"))
	hostile := send(t, g, heldMessage("Your invoice", "text/html; charset=utf-8",
		"<html><body><h1>Invoice</h1><p>"+gtube+"</p>"+
			"<script>fetch('"+tracker.URL+"/script'); document.body.innerHTML='SCRIPT RAN';</script>"+
			"<img src=\""+tracker.URL+"/pixel.gif\" width=1 height=1>"+
			"<img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\"></body></html>\r\n"))
	for i := range 4 { // enough to page and sort
		send(t, g, heldMessage(fmt.Sprintf("Filler %d", i), "text/plain", gtube+"\r\n"))
	}
	before := tokenTotals(t, g)

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clickAndLoad := func(sel string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		return resp.Status
	}
	login := func(user, pass string) int64 {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"),
			chromedp.SetValue(chromedp.ID("user"), user), chromedp.SetValue(chromedp.ID("password"), pass)); err != nil {
			t.Fatal(err)
		}
		return clickAndLoad("form button[type=submit]")
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 900)); err != nil {
		t.Fatal(err)
	}

	// Not logged in: the list sends the browser to the login page.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/login") {
		t.Errorf("the list without a login shows %s", loc)
	}
	shot("login-laptop")

	// A wrong password is refused.
	if st := login("alice", "wrong horse"); st != http.StatusUnauthorized || !strings.Contains(text(".error"), "Wrong user name or password") {
		t.Errorf("wrong password: status %d", st)
	}
	if st := login("alice", "correct horse"); st != http.StatusOK {
		t.Fatalf("login: status %d", st)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != base+"/" {
		t.Fatalf("after login the browser is at %s", loc)
	}
	cookies, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(cookies, "mailguard_session") {
		t.Errorf("the session cookie is readable by scripts: %q", cookies)
	}
	list := text("table.list")
	for _, id := range []string{good, bad, hostile} {
		if !strings.Contains(list, id) {
			t.Errorf("the list lacks %s:\n%s", id, list)
		}
	}
	if !strings.Contains(list, "Cheap wätches") {
		t.Errorf("the encoded subject is not decoded in the list:\n%s", list)
	}
	shot("list-laptop")

	// The sender quotes the queue id they were told; it finds the message.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("input[name=q]"), strings.ToLower(good))); err != nil {
		t.Fatal(err)
	}
	clickAndLoad("form.search button")
	rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.list tbody tr').length`))
	if rows != 1 || !strings.Contains(text("table.list tbody"), good) {
		t.Fatalf("search by queue id %s found %d rows", strings.ToLower(good), rows)
	}
	clickAndLoad("table.list td.subj a")
	if !strings.Contains(text("h1.subject"), "Quarterly report") || !strings.Contains(text(".kv"), good) || !strings.Contains(text("table.tests"), "GTUBE") {
		t.Fatalf("message view of %s:\n%s", good, text("main"))
	}
	if clues := text("table.clues"); !regexp.MustCompile(`quarterly|report|figures`).MatchString(clues) {
		t.Errorf("the message view shows no Bayes tokens that decided:\n%s", clues)
	}
	shot("view-laptop")

	// "Not spam": delivered to the recipient without the spam flag, and
	// learnt as ham.
	if st := clickAndLoad(".decide button.good"); st != http.StatusOK || !strings.Contains(text(".notice"), "released as not spam") {
		t.Fatalf("not spam: status %d, page:\n%s", st, text("main"))
	}
	got := g.Backend.Wait(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("backend has %d messages after Not spam", len(got))
	}
	head, _, _ := strings.Cut(string(got[0].Data), "\r\n\r\n")
	if strings.Contains(head, "X-Spam-Flag") || !regexp.MustCompile(`(?m)^X-Spam-Status: No, .* released by alice\r?$`).MatchString(head) ||
		got[0].From != "a@example.com" || strings.Join(got[0].Rcpts, ",") != "u@example.org" {
		t.Errorf("released message to %v:\n%s", got[0].Rcpts, head)
	}
	afterHam := tokenTotals(t, g)
	if afterHam.Ham != before.Ham+1 || afterHam.Spam != before.Spam {
		t.Errorf("token counts after Not spam: %+v, before %+v", afterHam, before)
	}

	// "Spam" on another: learnt as spam and gone.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/m/"+bad)); err != nil {
		t.Fatal(err)
	}
	if st := clickAndLoad(".decide button.bad"); st != http.StatusOK || !strings.Contains(text(".notice"), "deleted as spam") {
		t.Fatalf("spam: status %d", st)
	}
	afterSpam := tokenTotals(t, g)
	if afterSpam.Spam != afterHam.Spam+1 || afterSpam.Ham != afterHam.Ham {
		t.Errorf("token counts after Spam: %+v, before %+v", afterSpam, afterHam)
	}
	if strings.Contains(text("table.list"), bad) {
		t.Errorf("%s is still listed after Spam", bad)
	}
	if resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/m/"+bad)); err != nil || resp.Status != http.StatusNotFound {
		t.Errorf("the deleted message's page: %v %v", resp, err)
	}
	if g.Backend.Count() != 1 {
		t.Errorf("backend has %d messages; Spam must deliver nothing", g.Backend.Count())
	}

	// Hostile HTML: shown in the sandbox, its script does not run and its
	// remote image is not loaded. The page's load event waits for the
	// frame, so whatever it would fetch has been tried by now.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/m/"+hostile)); err != nil {
		t.Fatal(err)
	}
	frames, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('iframe.html[sandbox=""]').length`))
	if frames != 1 {
		t.Errorf("the HTML part is not in a sandboxed frame")
	}
	shot("view-html-laptop")
	if n := tracked.Load(); n != 0 {
		t.Errorf("showing the HTML part made %d request(s) to the outside (last %v)", n, trackedPaths.Load())
	}
	csp, _ := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/m/"+hostile+"/html"))
	if csp == nil || !strings.Contains(fmt.Sprint(csp.Headers["Content-Security-Policy"]), "default-src 'none'") {
		t.Errorf("the HTML part is served without a CSP forbidding loads: %+v", csp)
	}
	if n := tracked.Load(); n != 0 {
		t.Errorf("opening the HTML part alone made %d request(s) to the outside", n)
	}

	// A POST without the CSRF token is refused, and changes nothing.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/m/"+hostile),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.decide form input[name=csrf]').forEach(e => e.remove())`)); err != nil {
		t.Fatal(err)
	}
	if st := clickAndLoad(".decide button.bad"); st != http.StatusForbidden || !strings.Contains(text(".error"), "security token") {
		t.Errorf("POST without the CSRF token: status %d", st)
	}
	if tot := tokenTotals(t, g); tot != afterSpam {
		t.Errorf("a refused POST changed the token counts: %+v", tot)
	}
	if resp, _ := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/m/"+hostile)); resp == nil || resp.Status != http.StatusOK {
		t.Errorf("the message is gone after a refused POST")
	}
	// Outside the browser too: a session cookie alone does not do.
	form := url.Values{"action": {"delete"}, "id": {hostile}}
	req, _ := http.NewRequest("POST", base+"/bulk", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /bulk without a session or token: %v %v", resp, err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/stats")); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.chart rect').length`)); n == 0 {
		t.Errorf("the stats page draws no bars")
	}
	shot("stats-laptop")

	// The same pages at a phone's width.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, path, sel string }{
		{"list-phone", "/", "table.list"},
		{"view-phone", "/m/" + hostile, "h1.subject"},
		{"stats-phone", "/stats", "svg.chart"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel))); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
			t.Errorf("%s is %d px wide at a 390 px phone width: it scrolls sideways", p.name, w)
		}
		shot(p.name)
	}
	// The HTML part on the phone, scrolled into view (a full-page capture
	// does not paint a frame far below the viewport).
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/m/"+hostile), chromedp.ScrollIntoView(chromedp.CSS("iframe.html"))); err != nil {
		t.Fatal(err)
	}
	if b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	} else {
		os.WriteFile(filepath.Join(shots, "view-html-phone.png"), b, 0o644)
	}
	if n := tracked.Load(); n != 0 {
		t.Errorf("%d request(s) to the outside while reviewing", n)
	}
	// The control: the browser does reach the tracker when told to, so the
	// zero above is the sandbox's doing.
	if err := chromedp.Do(ctx, chromedp.Navigate(tracker.URL+"/control")); err != nil {
		t.Fatal(err)
	}
	if tracked.Load() == 0 {
		t.Errorf("the browser cannot reach the test server at all: the checks above prove nothing")
	}
}

// TestDigest: the running gateway mails each recipient a digest of what
// was held for them; its link releases the message to that recipient.
func TestDigest(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "web-users")
	WriteConfigRaw(t, users, userLine(t, "alice", "pw"))
	g := Start(t, Options{Settings: map[string]any{
		"thresholds": map[string]any{"tag": 5, "quarantine": 10, "reject": 5000},
		"web":        map[string]any{"listen": "127.0.0.1:0", "users_file": users},
		"quarantine": map[string]any{"retry_first": "1s", "digest": map[string]any{"enabled": true, "url": "http://placeholder.invalid", "every": "1m"}},
	}})
	line := g.LogLines(`msg=listening service=web addr=`)
	if len(line) == 0 {
		t.Fatalf("the web UI did not start")
	}
	base := "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line[0])[1]
	qid := send(t, g, heldMessage("=?utf-8?q?Ihre_Bestellung_=C3=BCberpr=C3=BCfen?=", "text/plain; charset=utf-8", gtube+"\r\n"))
	// The gateway starts the digest clock on its first round; once it
	// has, say the last digests went out long ago: the next round sends.
	stamp := filepath.Join(g.Dir, "data", "digest.last")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(stamp); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway never started the digest clock")
		}
	}
	if err := os.WriteFile(stamp, []byte("2000-01-01T00:00:00Z\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	got := g.Backend.Wait(1, time.Minute)
	if len(got) != 1 {
		t.Fatalf("no digest arrived:\n%s", g.Log())
	}
	d := got[0]
	if d.From != "" || strings.Join(d.Rcpts, ",") != "u@example.org" || !strings.Contains(string(d.Data), "Ihre Bestellung überprüfen") || !strings.Contains(string(d.Data), qid) {
		t.Fatalf("digest <%s> -> %v:\n%s", d.From, d.Rcpts, d.Data)
	}
	m := regexp.MustCompile(`Release: http://placeholder\.invalid(/r/\S+)`).FindStringSubmatch(string(d.Data))
	if m == nil {
		t.Fatalf("the digest has no release link:\n%s", d.Data)
	}
	u, _ := url.Parse(base + m[1])
	resp, err := http.PostForm(base+u.Path, u.Query())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("following the link: %v %v", resp, err)
	}
	resp.Body.Close()
	got = g.Backend.Wait(2, 30*time.Second)
	if len(got) != 2 || !strings.Contains(string(got[1].Data), "released by u@example.org (digest link)") {
		t.Fatalf("after the link the backend has %d messages", len(got))
	}
	if l := g.LogLines(`msg="quarantine digest sent" rcpt=u@example.org messages=1`); len(l) != 1 {
		t.Errorf("digest log lines: %v", l)
	}
}
