package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"mailguard/internal/testutil/smtptest"
)

// testTLS makes a throwaway self-signed certificate.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gw.test"}, DNSNames: []string{"gw.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func usersFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func hash(t *testing.T, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestLoadUsers(t *testing.T) {
	good := usersFile(t, "# operators", "", "alice:"+hash(t, "secret"), "bob:"+hash(t, "hunter2"))
	u, err := LoadUsers(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "secret", true}, {"bob", "hunter2", true}, {"alice", "hunter2", false}, {"carol", "secret", false}, {"alice", "", false},
	}
	for _, tt := range tests {
		if got := u.Check(tt.user, tt.pw); got != tt.ok {
			t.Errorf("Check(%s, %s) = %v", tt.user, tt.pw, got)
		}
	}

	bad := usersFile(t, "alice:"+hash(t, "x"), "no colon", "bob:plaintext", "alice:"+hash(t, "y"))
	_, err = LoadUsers(bad)
	for _, want := range []string{":2: want user:bcrypt-hash", `:3: user "bob": not a bcrypt hash`, `:4: user "alice" listed twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad users file: error %v lacks %q", err, want)
		}
	}
	if _, err := LoadUsers(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("missing users file loaded")
	}
}

func TestAuth(t *testing.T) {
	u, err := LoadUsers(usersFile(t, "alice:"+hash(t, "secret")))
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	tp := startProxy(t, Config{TLS: testTLS(t), Users: u, Chain: testChain(s)}, smtptest.Options{})
	c := tp.dial(t)
	r := c.Cmd("EHLO client.test")
	all := strings.Join(r.Lines, "\n")
	if !strings.Contains(all, "STARTTLS") || strings.Contains(all, "AUTH") {
		t.Errorf("EHLO before TLS: %s", all)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret"))
	if r := c.Cmd("AUTH PLAIN %s", plain); r.Code != 538 || r.Enhanced != "5.7.11" {
		t.Errorf("AUTH before TLS: %s", r)
	}
	c.StartTLS()
	r = c.Cmd("EHLO client.test")
	if all := strings.Join(r.Lines, "\n"); !strings.Contains(all, "AUTH PLAIN LOGIN") || strings.Contains(all, "STARTTLS") {
		t.Errorf("EHLO under TLS: %s", all)
	}
	wrong := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong"))
	if r := c.Cmd("AUTH PLAIN %s", wrong); r.Code != 535 || r.Enhanced != "5.7.8" {
		t.Errorf("wrong password: %s", r)
	}
	junk := base64.StdEncoding.EncodeToString([]byte("no separators"))
	if r := c.Cmd("AUTH PLAIN %s", junk); r.Code != 501 || strings.Contains(r.Text, "sasl") {
		t.Errorf("malformed PLAIN data: %s", r)
	}
	if r := c.Cmd("AUTH PLAIN %s", plain); r.Code != 235 {
		t.Fatalf("right password: %s", r)
	}
	c.Expect(250, "MAIL FROM:<a@example.com>")
	got := s.last()
	if got.AuthUser != "alice" || !got.TLS || !got.ESMTP || !got.MayRelay {
		t.Errorf("the chain saw %+v", got)
	}
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Data([]byte(plainMsg))
	if d := string(tp.be.Messages()[0].Data); !strings.Contains(d, "with ESMTPSA id") {
		t.Errorf("Received: of an authenticated TLS session: %q", d[:200])
	}
	if !strings.Contains(tp.logs.String(), "msg=authenticated") || !strings.Contains(tp.logs.String(), `msg="authentication failed"`) {
		t.Errorf("authentications not logged:\n%s", tp.logs.String())
	}
}

func TestAuthLogin(t *testing.T) {
	u, err := LoadUsers(usersFile(t, "bob:"+hash(t, "hunter2")))
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, Config{TLS: testTLS(t), Users: u}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.StartTLS()
	c.Expect(250, "EHLO client.test")
	b64 := base64.StdEncoding.EncodeToString
	if r := c.Cmd("AUTH LOGIN"); r.Code != 334 || r.Text != b64([]byte("Username:")) {
		t.Fatalf("AUTH LOGIN: %s", r)
	}
	if r := c.Cmd("%s", b64([]byte("bob"))); r.Code != 334 || r.Text != b64([]byte("Password:")) {
		t.Fatalf("user name: %s", r)
	}
	if r := c.Cmd("%s", b64([]byte("hunter2"))); r.Code != 235 {
		t.Fatalf("password: %s", r)
	}
}
