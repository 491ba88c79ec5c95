package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"mailguard/classifier"
	"mailguard/internal/testutil/smtptest"
	"mailguard/quarantine"
	"mailguard/web"
)

type fixture struct {
	srv      *httptest.Server
	key      quarantine.LinkKey
	releaser *quarantine.Releaser
	store    quarantine.Store
	backend  *smtptest.Server
	tokens   *classifier.MemStore
}

func hash(t *testing.T, pass string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// start runs the UI over a fresh quarantine, with a reviewer (alice) and a
// recipient limited to v@example.org (vic).
func start(t *testing.T, tls bool) *fixture {
	t.Helper()
	st, err := quarantine.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	be := smtptest.Start(t, smtptest.Options{})
	users, err := web.ParseUsers([]byte("alice:" + hash(t, "pw-alice") + "\nvic:" + hash(t, "pw-vic") + ":v@example.org\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{store: st, backend: be, tokens: classifier.NewMemStore()}
	if f.key, err = quarantine.LoadLinkKey(filepath.Join(t.TempDir(), "key")); err != nil {
		t.Fatal(err)
	}
	f.releaser = &quarantine.Releaser{Store: st, Deliver: quarantine.Backend{Addr: be.Addr, Timeout: 10 * time.Second}, Log: log}
	ui, err := web.New(web.Config{
		Store:    st,
		Links:    f.key,
		Releaser: f.releaser,
		Tokens:   func() (classifier.Store, error) { return f.tokens, nil },
		Users:    users,
		Log:      log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tls {
		f.srv = httptest.NewTLSServer(ui)
	} else {
		f.srv = httptest.NewServer(ui)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) hold(t *testing.T, id, subject string, score float64, rcpts ...string) {
	t.Helper()
	msg := "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=12\r\nFrom: s@example.com\r\nSubject: " + subject + "\r\n\r\nbody " + subject + "\r\n"
	if _, err := f.store.Put(context.Background(), quarantine.Entry{ID: id, MailFrom: "s@example.com", Rcpts: rcpts, Score: score}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
}

// client is a browser: a cookie jar, no automatic redirects.
func (f *fixture) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// login logs in and returns the session's CSRF token.
func (f *fixture) login(t *testing.T, c *http.Client, user, pass string) (*http.Response, string) {
	t.Helper()
	_, page := get(t, c, f.srv.URL+"/login")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("login form without a CSRF token:\n%s", page)
	}
	resp, _ := post(t, c, f.srv.URL+"/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {pass}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp, ""
	}
	_, list := get(t, c, f.srv.URL+"/")
	m = csrfRe.FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("list without a CSRF token:\n%s", list)
	}
	return resp, m[1]
}

func TestCookiesAndHeaders(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", tls), func(t *testing.T) {
			f := start(t, tls)
			c := f.client(t)
			resp, _ := f.login(t, c, "alice", "pw-alice")
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == "mailguard_session" {
					session = ck
				}
			}
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure != tls {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v", session, tls)
			}
			r, _ := get(t, c, f.srv.URL+"/")
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
				t.Errorf("page CSP %q", csp)
			}
			if r.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("pages may be framed")
			}
		})
	}
}

// Hostile HTML is served only with a policy that runs no script and loads
// nothing, in a sandbox.
func TestHTMLPartPolicy(t *testing.T) {
	f := start(t, false)
	msg := "From: s@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<p>caf=E9</p><script>alert(1)</script><img src=3D\"http://tracker.example/p.gif\">\r\n--b--\r\n"
	if _, err := f.store.Put(context.Background(), quarantine.Entry{ID: "H1", Rcpts: []string{"u@example.org"}}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.login(t, c, "alice", "pw-alice")
	_, page := get(t, c, f.srv.URL+"/m/h1")
	if !strings.Contains(page, "plain words") || !strings.Contains(page, `<iframe class="html" sandbox=""`) || strings.Contains(page, "<script>") {
		t.Errorf("message page:\n%s", page)
	}
	r, body := get(t, c, f.srv.URL+"/m/H1/html")
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "img-src data:", "sandbox"} {
		if !strings.Contains(csp, want) {
			t.Errorf("HTML part CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "http") {
		t.Errorf("HTML part CSP %q allows scripts or remote loads", csp)
	}
	if !strings.Contains(body, "café") {
		t.Errorf("HTML part not decoded to UTF-8: %q", body)
	}
}

// Failed logins are limited per client: after five, even the right
// password is refused for a while.
func TestLoginRateLimit(t *testing.T) {
	f := start(t, false)
	c := f.client(t)
	for i := range 5 {
		if resp, _ := f.login(t, c, "alice", "nope"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d", i, resp.StatusCode)
		}
	}
	if resp, _ := f.login(t, c, "alice", "pw-alice"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password after five failures: status %d, want 429", resp.StatusCode)
	}
	if resp, _ := f.login(t, c, "nobody", "x"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("another name from the same client: status %d, want 429", resp.StatusCode)
	}
}

// Every POST needs the session's token; the login form its own.
func TestCSRF(t *testing.T) {
	f := start(t, false)
	f.hold(t, "AAA111", "keep me", 12, "u@example.org")
	c := f.client(t)
	if resp, _ := post(t, c, f.srv.URL+"/login", url.Values{"user": {"alice"}, "password": {"pw-alice"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %d", resp.StatusCode)
	}
	_, tok := f.login(t, c, "alice", "pw-alice")
	for _, v := range []url.Values{{}, {"csrf": {"forged"}}} {
		if resp, _ := post(t, c, f.srv.URL+"/m/AAA111/delete", v); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with token %v: %d, want 403", v["csrf"], resp.StatusCode)
		}
	}
	if _, rc, err := f.store.Get(context.Background(), "AAA111"); err != nil {
		t.Fatalf("a refused POST deleted the message: %v", err)
	} else {
		rc.Close()
	}
	if resp, _ := post(t, c, f.srv.URL+"/m/AAA111/delete", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with the token: %d", resp.StatusCode)
	}
}

// Search, sort and paging of the list.
func TestListSearchSortPage(t *testing.T) {
	f := start(t, false)
	for i := range 60 {
		f.hold(t, fmt.Sprintf("ID%04d", i), fmt.Sprintf("subject %02d", i), float64(i%7)+10, "u@example.org")
	}
	f.hold(t, "ZZZ999", "=?utf-8?q?sp=C3=A9cial?=", 99, "other@example.org")
	c := f.client(t)
	f.login(t, c, "alice", "pw-alice")
	_, page := get(t, c, f.srv.URL+"/")
	if n := strings.Count(page, `type="checkbox" name="id"`); n != 50 || !strings.Contains(page, "page 1 of 2") {
		t.Errorf("first page has %d rows", n)
	}
	_, page = get(t, c, f.srv.URL+"/?page=2")
	if n := strings.Count(page, `type="checkbox" name="id"`); n != 11 {
		t.Errorf("second page has %d rows, want 11", n)
	}
	_, page = get(t, c, f.srv.URL+"/?q=sp%C3%A9cial")
	if n := strings.Count(page, `type="checkbox" name="id"`); n != 1 || !strings.Contains(page, "ZZZ999") {
		t.Errorf("search by decoded subject: %d rows", n)
	}
	_, page = get(t, c, f.srv.URL+"/?q=OTHER@example.org")
	if n := strings.Count(page, `type="checkbox" name="id"`); n != 1 {
		t.Errorf("search by recipient: %d rows", n)
	}
	_, page = get(t, c, f.srv.URL+"/?sort=score&dir=asc")
	first := regexp.MustCompile(`value="(\w+)" aria-label`).FindStringSubmatch(page)
	if first == nil || first[1] != "ID0000" {
		t.Errorf("lowest score first: %v", first)
	}
	_, page = get(t, c, f.srv.URL+"/?sort=score&dir=desc")
	if first := regexp.MustCompile(`value="(\w+)" aria-label`).FindStringSubmatch(page); first == nil || first[1] != "ZZZ999" {
		t.Errorf("highest score first: %v", first)
	}
}

// Bulk "Not spam" releases and learns each selected message.
func TestBulk(t *testing.T) {
	f := start(t, false)
	f.hold(t, "B1", "one", 12, "u@example.org")
	f.hold(t, "B2", "two", 12, "u@example.org")
	f.hold(t, "B3", "three", 12, "u@example.org")
	c := f.client(t)
	_, tok := f.login(t, c, "alice", "pw-alice")
	resp, _ := post(t, c, f.srv.URL+"/bulk", url.Values{"csrf": {tok}, "action": {"notspam"}, "id": {"B1", "b2"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "2+message") {
		t.Errorf("bulk: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.backend.Count() != 2 {
		t.Errorf("backend has %d messages, want 2", f.backend.Count())
	}
	for _, m := range f.backend.Messages() {
		if strings.Contains(string(m.Data), "X-Spam-Flag") || !strings.Contains(string(m.Data), "X-Spam-Status: No, score=12 released by alice") {
			t.Errorf("released:\n%s", m.Data)
		}
	}
	if tot, _ := f.tokens.Totals(context.Background()); tot.Ham != 2 || tot.Spam != 0 {
		t.Errorf("learnt %+v, want 2 ham", tot)
	}
	l, _ := f.store.List(context.Background())
	if len(l) != 1 || l[0].ID != "B3" {
		t.Errorf("left held: %v", l)
	}
}

// A recipient's login sees only mail held for them, and may release only
// mail held for nobody else.
func TestRecipientLogin(t *testing.T) {
	f := start(t, false)
	f.hold(t, "MINE01", "for vic", 12, "V@example.org")
	f.hold(t, "SHARED", "for vic and u", 12, "v@example.org", "u@example.org")
	f.hold(t, "OTHERS", "for u", 12, "u@example.org")
	c := f.client(t)
	_, tok := f.login(t, c, "vic", "pw-vic")
	_, page := get(t, c, f.srv.URL+"/")
	if !strings.Contains(page, "MINE01") || !strings.Contains(page, "SHARED") || strings.Contains(page, "OTHERS") {
		t.Errorf("vic's list:\n%s", page)
	}
	if r, _ := get(t, c, f.srv.URL+"/m/OTHERS"); r.StatusCode != http.StatusNotFound {
		t.Errorf("vic opens another's message: %d", r.StatusCode)
	}
	if r, _ := post(t, c, f.srv.URL+"/m/OTHERS/delete", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("vic deletes another's message: %d", r.StatusCode)
	}
	if r, _ := post(t, c, f.srv.URL+"/m/SHARED/release", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusConflict {
		t.Errorf("vic releases a message held for others too: %d", r.StatusCode)
	}
	if r, _ := post(t, c, f.srv.URL+"/m/MINE01/notspam", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("vic releases her own: %d", r.StatusCode)
	}
	if f.backend.Count() != 1 {
		t.Errorf("backend has %d messages, want 1", f.backend.Count())
	}
	l, _ := f.store.List(context.Background())
	if len(l) != 2 {
		t.Errorf("held after vic's actions: %v", l)
	}
}

func TestParseUsers(t *testing.T) {
	h := hash(t, "x")
	for _, c := range []struct {
		in      string
		wantErr string
	}{
		{"# c\n\nalice:" + h + "\nbob:" + h + ":b@example.org,@example.net\n", ""},
		{"alice\n", "line 1: not user:bcrypt-hash"},
		{"alice:plain\n", `line 1: user "alice": the hash is not bcrypt`},
		{"alice:" + h + ":not-an-address\n", `"not-an-address" is not an address`},
		{"alice:" + h + "\nalice:" + h + "\n", "listed twice"},
	} {
		_, err := web.ParseUsers([]byte(c.in))
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("ParseUsers(%q): %v, want %q", c.in, err, c.wantErr)
		}
	}
	u, _ := web.ParseUsers([]byte("bob:" + h + ":b@example.org,@Example.NET\n"))
	for rcpts, want := range map[string]bool{"b@example.org": true, "B@EXAMPLE.ORG": true, "x@example.net": true, "x@example.org": false, "x@sub.example.net": false} {
		if got := u["bob"].Sees([]string{rcpts}); got != want {
			t.Errorf("Sees(%s) = %v", rcpts, got)
		}
	}
}

// A digest lists each recipient's held mail; its link for a message held
// for that recipient alone shows a confirmation (a GET releases nothing),
// and the confirmation's POST releases it, once. Altered links are refused.
func TestDigestLinks(t *testing.T) {
	f := start(t, false)
	f.hold(t, "SOLO01", "just for u", 12, "u@example.org")
	f.hold(t, "BOTH01", "for u and v", 12, "u@example.org", "v@example.org")
	d := quarantine.Digest{URL: f.srv.URL, From: "postmaster@mx.example.org", Hostname: "mx.example.org", LinkTTL: time.Hour, Key: f.key}
	n, err := d.Send(context.Background(), f.releaser, time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Send: %d digests, %v; want 2", n, err)
	}
	var forU string
	for _, m := range f.backend.Messages() {
		if m.From != "" || len(m.Rcpts) != 1 {
			t.Errorf("digest envelope %q -> %v, want <> to one recipient", m.From, m.Rcpts)
		}
		if m.Rcpts[0] == "u@example.org" {
			forU = string(m.Data)
		} else if strings.Contains(string(m.Data), "/r/") {
			t.Errorf("v's digest offers a link for a message held for u too:\n%s", m.Data)
		}
	}
	if !strings.Contains(forU, "just for u") || !strings.Contains(forU, "for u and v") || strings.Count(forU, "/r/") != 1 {
		t.Fatalf("u's digest:\n%s", forU)
	}
	link := regexp.MustCompile(`Release: (\S+)`).FindStringSubmatch(forU)[1]
	c := f.client(t) // no login: the link is the authority
	if r, page := get(t, c, link); r.StatusCode != http.StatusOK || !strings.Contains(page, "Release it to me") {
		t.Fatalf("link: %d\n%s", r.StatusCode, page)
	}
	if f.backend.Count() != 2 {
		t.Fatalf("a GET released the message")
	}
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("r", "v@example.org")
	if r, _ := post(t, c, f.srv.URL+u.Path, q); r.StatusCode != http.StatusForbidden {
		t.Errorf("altered link: %d, want 403", r.StatusCode)
	}
	if r, page := post(t, c, f.srv.URL+u.Path, u.Query()); r.StatusCode != http.StatusOK || !strings.Contains(page, "Released") {
		t.Fatalf("release by link: %d\n%s", r.StatusCode, page)
	}
	msgs := f.backend.Messages()
	if len(msgs) != 3 || strings.Join(msgs[2].Rcpts, ",") != "u@example.org" || !strings.Contains(string(msgs[2].Data), "released by u@example.org (digest link)") {
		t.Errorf("released: %+v", msgs[len(msgs)-1])
	}
	if r, _ := post(t, c, f.srv.URL+u.Path, u.Query()); r.StatusCode != http.StatusNotFound || f.backend.Count() != 3 {
		t.Errorf("second use of the link: %d, backend %d messages", r.StatusCode, f.backend.Count())
	}
}
