package authres

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// The test domains and what they publish:
//
//	example.com        SPF allows 192.0.2.10 (-all), DKIM keys ed and rsa, DMARC p=reject
//	mail.example.com   DKIM key (relaxed alignment with example.com)
//	example.net        SPF ~all, DMARC p=quarantine
//	example.org        nothing at all
//	strict.example     SPF allows 192.0.2.10, DMARC p=reject adkim=s aspf=s
//	sampled.example    SPF -all, DMARC p=reject pct=50
//	perm.example       SPF with an unknown mechanism, DMARC record broken
//	broken.example     DKIM key without key data
//	tempfail.example   every question SERVFAILs
//	keytemp.example    the DKIM key query SERVFAILs, DMARC p=reject
//	typo.example, upper.example, spaced.example, dup.example, badsp.example
//	                   DMARC p=reject, written loosely (see the zone)
//	ruaonly.example    DMARC rua= without p=: acts as p=none
//	lower.example      v=dmarc1: not a DMARC record (DMARC1 is case-sensitive)
const zoneTmpl = `
$TTL 300
example.com.                  IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.example.com.           IN TXT "v=DMARC1; p=reject; sp=quarantine"
ed._domainkey.example.com.    IN TXT "v=DKIM1; k=ed25519; p=%[1]s"
rsa._domainkey.example.com.   IN TXT %[2]s
ed._domainkey.mail.example.com. IN TXT "v=DKIM1; k=ed25519; p=%[1]s"
mail.example.com.             IN A 192.0.2.99
example.net.                  IN TXT "v=spf1 ~all"
_dmarc.example.net.           IN TXT "v=DMARC1; p=quarantine"
ed._domainkey.example.net.    IN TXT "v=DKIM1; k=ed25519; p=%[1]s"
example.org.                  IN A 192.0.2.50
strict.example.               IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.strict.example.        IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
ed._domainkey.mail.strict.example. IN TXT "v=DKIM1; k=ed25519; p=%[1]s"
sampled.example.              IN TXT "v=spf1 -all"
_dmarc.sampled.example.       IN TXT "v=DMARC1; p=reject; pct=50"
perm.example.                 IN TXT "v=spf1 frobnicate -all"
_dmarc.perm.example.          IN TXT "v=DMARC1; p=bogus"
broken.example.               IN TXT "v=spf1 -all"
ed._domainkey.broken.example. IN TXT "v=DKIM1; k=ed25519; p="
tempfail.example.             IN TXT "v=spf1 -all"
_dmarc.tempfail.example.      IN TXT "v=DMARC1; p=reject"
keytemp.example.              IN TXT "v=spf1 -all"
_dmarc.keytemp.example.       IN TXT "v=DMARC1; p=reject"
ed._domainkey.keytemp.example. IN TXT "v=DKIM1; k=ed25519; p=%[1]s"
_dmarc.typo.example.          IN TXT "v=DMARC1; p=reject; fo:1"
_dmarc.upper.example.         IN TXT "V=DMARC1; P=REJECT; ADKIM=S"
_dmarc.spaced.example.        IN TXT "v = DMARC1 ;p = reject ; pct = 100 ; "
_dmarc.dup.example.           IN TXT "v=DMARC1; p=reject; p=none; x=1; rf=bogus"
_dmarc.badsp.example.         IN TXT "v=DMARC1; p=reject; sp=rejcet; pct=1000"
_dmarc.ruaonly.example.       IN TXT "v=DMARC1; rua=mailto:reports@ruaonly.example"
_dmarc.ruaonly.example.       IN TXT "google-site-verification=abc"
_dmarc.lower.example.         IN TXT "v=dmarc1; p=reject"
_dmarc.nosemi.example.        IN TXT "v=DMARC1 p=reject"
`

type env struct {
	srv   *dnstest.Server
	res   resolver.Resolver
	edKey ed25519.PrivateKey
	rsaKy *rsa.PrivateKey
}

func setup(t *testing.T) *env {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// A 2048-bit key does not fit one 255-byte TXT string: split it, as
	// operators must, to show the strings are joined.
	rsaTXT := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(rsaTXT) > 200 {
		parts = append(parts, `"`+rsaTXT[:200]+`"`)
		rsaTXT = rsaTXT[200:]
	}
	parts = append(parts, `"`+rsaTXT+`"`)
	zone := fmt.Sprintf(zoneTmpl, base64.StdEncoding.EncodeToString(pub), strings.Join(parts, " "))
	srv := dnstest.Start(t, zone)
	for _, n := range []string{"tempfail.example", "_dmarc.tempfail.example", "ed._domainkey.keytemp.example"} {
		srv.ServFail(n, true)
	}
	res, err := resolver.New(resolver.Config{Server: srv.Addr(), Timeout: 2 * time.Second, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, res: res, edKey: priv, rsaKy: rk}
}

// message builds a message From fromAddr, signed by each of the
// domain/selector pairs given ("example.com/ed").
func (e *env) message(t *testing.T, fromAddr string, signers ...string) []byte {
	t.Helper()
	msg := []byte("From: Sender <" + fromAddr + ">\r\n" +
		"To: rcpt@example.org\r\n" +
		"Subject: quarterly report\r\n" +
		"Date: Mon, 02 Jan 2026 10:00:00 +0000\r\n" +
		"Message-ID: <1@" + strings.SplitN(fromAddr, "@", 2)[1] + ">\r\n" +
		"\r\n" +
		"The figures are attached.\r\n")
	for _, s := range signers {
		domain, sel, _ := strings.Cut(s, "/")
		var signer crypto.Signer = e.edKey
		if sel == "rsa" {
			signer = e.rsaKy
		}
		var out bytes.Buffer
		err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
			Domain: domain, Selector: sel, Signer: signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		})
		if err != nil {
			t.Fatal(err)
		}
		msg = out.Bytes()
	}
	return msg
}

type outcome struct {
	verdict filters.Verdict
	header  string // our Authentication-Results value, "" if none added
	tr      *filters.Transaction
}

func run(t *testing.T, c *Checker, ip, helo, mailFrom string, msg []byte, relay bool) outcome {
	t.Helper()
	conn := &filters.ClientConn{ClientIP: netip.MustParseAddr(ip), Helo: helo}
	conn.SetRelayClient(relay)
	tr := filters.NewTransaction(conn, "TESTQ1")
	tr.MailFrom = mailFrom
	tr.Rcpts = []string{"rcpt@example.org"}
	ctx := context.Background()
	if v := c.CheckRcpt(ctx, tr, "rcpt@example.org"); !v.IsPass() {
		t.Fatalf("CheckRcpt: %+v", v)
	}
	v := c.CheckMessage(ctx, tr, filters.NewMessage(msg))
	o := outcome{verdict: v, tr: tr}
	for _, h := range tr.AddedHeaders() {
		if h.Name == headerName {
			if o.header != "" {
				t.Errorf("two Authentication-Results added")
			}
			o.header = h.Value
		}
	}
	return o
}

func newChecker(t *testing.T, e *env, cfg Config) *Checker {
	t.Helper()
	cfg.Resolver = e.res
	cfg.Hostname = "mx.example.org"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tests(v filters.Verdict) string {
	var names []string
	for _, s := range v.Scores {
		names = append(names, s.Test)
	}
	return strings.Join(names, ",")
}

func TestChecks(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{})
	const good, bad = "192.0.2.10", "198.51.100.7"
	cases := []struct {
		name           string
		ip, helo, from string
		msg            []byte
		want           []string // fragments of the header, in order
		tests          string
	}{
		{"all pass", good, "mail.example.com", "bounce@example.com", e.message(t, "ceo@example.com", "example.com/ed"),
			[]string{"mx.example.org; spf=pass smtp.mailfrom=bounce@example.com", "dkim=pass header.d=example.com header.i=@example.com", "dmarc=pass (p=reject) header.from=example.com"}, ""},
		{"rsa key in split TXT", bad, "h.example", "x@example.org", e.message(t, "ceo@example.com", "example.com/rsa"),
			[]string{"spf=none", "dkim=pass header.d=example.com", "dmarc=pass"}, ""},
		{"spf fail, dkim saves dmarc (relaxed)", bad, "h.example", "bounce@example.com", e.message(t, "ceo@example.com", "mail.example.com/ed"),
			[]string{"spf=fail smtp.mailfrom=bounce@example.com", "dkim=pass header.d=mail.example.com", "dmarc=pass"}, "SPF_FAIL"},
		{"spf fail, unsigned: dmarc fail p=reject", bad, "h.example", "bounce@example.com", e.message(t, "ceo@example.com"),
			[]string{"spf=fail", "dkim=none", "dmarc=fail (p=reject) header.from=example.com"}, "SPF_FAIL,DMARC_FAIL_REJECT"},
		{"softfail, p=quarantine", bad, "h.example", "a@example.net", e.message(t, "a@example.net"),
			[]string{"spf=softfail smtp.mailfrom=a@example.net", "dkim=none", "dmarc=fail (p=quarantine)"}, "SPF_SOFTFAIL,DMARC_FAIL_QUARANTINE"},
		{"nothing published", bad, "h.example", "a@example.org", e.message(t, "a@example.org"),
			[]string{"spf=none smtp.mailfrom=a@example.org", "dkim=none", "dmarc=none header.from=example.org"}, ""},
		{"tampered body: dkim fail", good, "h.example", "a@example.com", tamper(e.message(t, "a@example.com", "example.com/ed")),
			[]string{"spf=pass", `dkim=fail reason="body hash did not verify" header.d=example.com`, "dmarc=pass"}, "DKIM_INVALID"},
		{"signature by a domain without the key: permerror", bad, "h.example", "a@example.org", e.message(t, "a@example.org", "example.org/ed"),
			[]string{"dkim=permerror", "header.d=example.org", "dmarc=none"}, "DKIM_INVALID"},
		{"revoked key", bad, "h.example", "a@broken.example", e.message(t, "a@broken.example", "broken.example/ed"),
			[]string{"spf=fail", `dkim=permerror reason="key revoked"`}, "SPF_FAIL,DKIM_INVALID"},
		{"strict alignment: exact spf domain aligns", good, "h.example", "a@strict.example", e.message(t, "a@strict.example", "mail.strict.example/ed"),
			[]string{"spf=pass", "dkim=pass header.d=mail.strict.example", "dmarc=pass"}, ""},
		{"strict alignment: spf for another domain, subdomain dkim", bad, "h.example", "a@strict.example", e.message(t, "a@strict.example", "mail.strict.example/ed"),
			[]string{"spf=fail", "dkim=pass header.d=mail.strict.example", "dmarc=fail (p=reject)"}, "SPF_FAIL,DMARC_FAIL_REJECT"},
		{"spf pass for an unaligned domain", good, "h.example", "bounce@example.com", e.message(t, "a@example.net"),
			[]string{"spf=pass", "dkim=none", "dmarc=fail (p=quarantine) header.from=example.net"}, "DMARC_FAIL_QUARANTINE"},
		{"subdomain From uses the organizational sp=", bad, "h.example", "a@news.example.com", e.message(t, "a@news.example.com"),
			[]string{"spf=none", "dmarc=fail (p=quarantine) header.from=news.example.com"}, "DMARC_FAIL_QUARANTINE"},
		{"null sender: HELO identity", good, "example.com", "", e.message(t, "mailer-daemon@example.com"),
			[]string{"spf=pass smtp.helo=example.com", "dkim=none", "dmarc=fail (p=reject)"}, "DMARC_FAIL_REJECT"},
		{"null sender from an address literal", good, "[192.0.2.10]", "", e.message(t, "a@example.org"),
			[]string{`spf=none smtp.helo="[192.0.2.10]"`}, ""},
		{"spf permerror, dmarc permerror", bad, "h.example", "a@perm.example", e.message(t, "a@perm.example"),
			[]string{"spf=permerror", "dkim=none", "dmarc=permerror"}, "SPF_PERMERROR"},
		{"servfail: temperror everywhere", bad, "h.example", "a@tempfail.example", e.message(t, "a@tempfail.example"),
			[]string{"spf=temperror smtp.mailfrom=a@tempfail.example", "dkim=none", "dmarc=temperror header.from=tempfail.example"}, ""},
		{"dkim key servfail: dkim and dmarc temperror, not fail", bad, "h.example", "a@keytemp.example", e.message(t, "a@keytemp.example", "keytemp.example/ed"),
			[]string{"spf=fail", "dkim=temperror header.d=keytemp.example", "dmarc=temperror"}, "SPF_FAIL"},
		{"two signatures, one good", bad, "h.example", "a@example.org", e.message(t, "a@example.com", "example.org/ed", "example.com/ed"),
			[]string{"dkim=pass header.d=example.com", "dkim=permerror", "dmarc=pass"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, c, tc.ip, tc.helo, tc.from, tc.msg, false)
			if o.verdict.Action != filters.Continue {
				t.Errorf("action %v, want continue (dmarc_reject is off)", o.verdict.Action)
			}
			rest := o.header
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("header %q\nlacks (in order) %q", o.header, w)
				}
				rest = rest[i+len(w):]
			}
			if got := tests(o.verdict); got != tc.tests {
				t.Errorf("tests %q, want %q (header %q)", got, tc.tests, o.header)
			}
		})
	}
}

// tamper changes the body after signing, as a mailing list footer would.
func tamper(msg []byte) []byte {
	return append(bytes.TrimSuffix(msg, []byte("\r\n")), []byte(" (edited)\r\n")...)
}

func TestDMARCReject(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{RejectDMARC: true})
	o := run(t, c, "198.51.100.7", "h.example", "bounce@example.com", e.message(t, "ceo@example.com"), false)
	if o.verdict.Action != filters.Reject || o.verdict.Reply.Code != 550 || o.verdict.Reply.Enhanced != "5.7.1" ||
		!strings.Contains(o.verdict.Reply.Text, "example.com") {
		t.Errorf("p=reject failure with dmarc_reject: %+v", o.verdict)
	}
	// pct=50 samples the policy: never refused outright, only scored.
	o = run(t, c, "198.51.100.7", "h.example", "a@sampled.example", e.message(t, "a@sampled.example"), false)
	if o.verdict.Action != filters.Continue || tests(o.verdict) != "SPF_FAIL,DMARC_FAIL_REJECT" {
		t.Errorf("sampled p=reject: %+v", o.verdict)
	}
	// A quarantine policy is not refused either.
	o = run(t, c, "198.51.100.7", "h.example", "a@example.net", e.message(t, "a@example.net"), false)
	if o.verdict.Action != filters.Continue {
		t.Errorf("p=quarantine failure refused: %+v", o.verdict)
	}
	// A temporary DNS failure is never a refusal.
	o = run(t, c, "198.51.100.7", "h.example", "a@keytemp.example", e.message(t, "a@keytemp.example", "keytemp.example/ed"), false)
	if o.verdict.Action != filters.Continue {
		t.Errorf("temperror refused: %+v", o.verdict)
	}
}

// rawFrom builds an unsigned message with the From field as given.
func rawFrom(from string) []byte {
	return []byte("From: " + from + "\r\n" +
		"To: rcpt@example.org\r\nSubject: wire transfer\r\n" +
		"Date: Mon, 02 Jan 2026 10:00:00 +0000\r\nMessage-ID: <2@example.org>\r\n\r\nPay now.\r\n")
}

// A record written loosely still has its p=reject applied (RFC 7489
// section 6.3); one that holds no policy is not enforced.
func TestDMARCRecordLeniency(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{RejectDMARC: true})
	for _, tc := range []struct {
		domain string
		action filters.Action
		header string
	}{
		{"typo.example", filters.Reject, "dmarc=fail (p=reject) header.from=typo.example"},
		{"upper.example", filters.Reject, "dmarc=fail (p=reject) header.from=upper.example"},
		{"spaced.example", filters.Reject, "dmarc=fail (p=reject) header.from=spaced.example"},
		{"dup.example", filters.Reject, "dmarc=fail (p=reject) header.from=dup.example"},
		{"sub.badsp.example", filters.Reject, "dmarc=fail (p=reject) header.from=sub.badsp.example"},
		{"nosemi.example", filters.Reject, "dmarc=fail (p=reject) header.from=nosemi.example"},
		{"ruaonly.example", filters.Continue, "dmarc=fail (p=none) header.from=ruaonly.example"},
		{"lower.example", filters.Continue, "dmarc=none header.from=lower.example"},
		{"perm.example", filters.Continue, "dmarc=permerror"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			o := run(t, c, "198.51.100.7", "h.example", "a@example.org", rawFrom("ceo@"+tc.domain), false)
			if o.verdict.Action != tc.action || !strings.Contains(o.header, tc.header) {
				t.Errorf("action %v header %q; want %v and %q", o.verdict.Action, o.header, tc.action, tc.header)
			}
		})
	}
}

// Every From domain is evaluated and the strictest failing policy applies
// (RFC 7489 section 6.6.1): a second author cannot shield a forged one.
func TestDMARCSeveralAuthors(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{RejectDMARC: true})
	for _, tc := range []struct {
		from   string
		action filters.Action
		refuse string // the domain the refusal names
		header []string
		tests  string
	}{
		{"ceo@example.com, helper@example.org", filters.Reject, "example.com",
			[]string{"dmarc=fail (p=reject) header.from=example.com", "dmarc=none header.from=example.org"}, "DMARC_FAIL_REJECT"},
		{"helper@example.org, ceo@example.com", filters.Reject, "example.com",
			[]string{"dmarc=none header.from=example.org", "dmarc=fail (p=reject) header.from=example.com"}, "DMARC_FAIL_REJECT"},
		{"Helper <helper@example.org>, \"The CEO\" <ceo@typo.example>", filters.Reject, "typo.example", nil, "DMARC_FAIL_REJECT"},
		{"Board: helper@example.org, ceo@example.com;", filters.Reject, "example.com", nil, "DMARC_FAIL_REJECT"},
		{"a@example.net, b@example.org, ceo@example.com", filters.Reject, "example.com",
			[]string{"dmarc=fail (p=quarantine) header.from=example.net", "dmarc=none header.from=example.org", "dmarc=fail (p=reject) header.from=example.com"}, "DMARC_FAIL_REJECT"},
		{"ceo@example.com, broken <<helper@example.org>", filters.Reject, "example.com", nil, "DMARC_FAIL_REJECT"},
		// The strictest failing policy is quarantine: scored, not refused.
		{"a@example.net, b@example.org", filters.Continue, "", []string{"dmarc=fail (p=quarantine) header.from=example.net", "dmarc=none header.from=example.org"}, "DMARC_FAIL_QUARANTINE"},
		// A sampled p=reject beside an enforced quarantine: the enforced
		// policy is not the refusing kind, the sampled one never refuses.
		{"a@sampled.example, b@example.net", filters.Continue, "", nil, "DMARC_FAIL_REJECT"},
		// The same domain twice is one evaluation, one resinfo.
		{"a@example.com, b@EXAMPLE.COM.", filters.Reject, "example.com", []string{"dmarc=fail (p=reject) header.from=example.com"}, "DMARC_FAIL_REJECT"},
		// A display name is not an author.
		{`"ceo@example.com" <helper@example.org>`, filters.Continue, "", []string{"dmarc=none header.from=example.org"}, ""},
	} {
		t.Run(tc.from, func(t *testing.T) {
			o := run(t, c, "198.51.100.7", "h.example", "a@example.org", rawFrom(tc.from), false)
			if o.verdict.Action != tc.action {
				t.Fatalf("action %v, want %v (header %q)", o.verdict.Action, tc.action, o.header)
			}
			if tc.refuse != "" && !strings.Contains(o.verdict.Reply.Text, "from "+tc.refuse+" ") {
				t.Errorf("refusal %q does not name %s", o.verdict.Reply.Text, tc.refuse)
			}
			rest := o.header
			for _, w := range tc.header {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("header %q\nlacks (in order) %q", o.header, w)
				}
				rest = rest[i+len(w):]
			}
			if strings.Count(o.header, "dmarc=") != len(tc.header) && tc.header != nil {
				t.Errorf("header %q: want %d dmarc results", o.header, len(tc.header))
			}
			got := tests(o.verdict)
			if !strings.Contains(got, tc.tests) || tc.tests == "" && strings.Contains(got, "DMARC") {
				t.Errorf("tests %q, want %q among them", got, tc.tests)
			}
		})
	}
}

// A From listing more domains than are evaluated still has the forged
// one among the first judged; past the bound the rest are reported as not
// judged, at a bounded cost in lookups.
func TestDMARCManyAuthors(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{RejectDMARC: true})
	var addrs []string
	for i := range 50 {
		addrs = append(addrs, fmt.Sprintf("a@d%d.example.org", i))
	}
	before := e.srv.TotalQueries()
	o := run(t, c, "198.51.100.7", "h.example", "a@example.org", rawFrom(strings.Join(append([]string{"ceo@example.com"}, addrs...), ", ")), false)
	if o.verdict.Action != filters.Reject {
		t.Errorf("forged first author among 51: %v (header %.200q)", o.verdict.Action, o.header)
	}
	if n := strings.Count(o.header, "dmarc="); n != maxFromDomains+1 {
		t.Errorf("%d dmarc results, want %d", n, maxFromDomains+1)
	}
	if q := e.srv.TotalQueries() - before; q > 2*maxFromDomains+10 {
		t.Errorf("%d DNS queries for one message", q)
	}
}

func TestWeights(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{Weights: map[string]float64{"SPF_FAIL": 3.5, "DMARC_FAIL_REJECT": 0}})
	o := run(t, c, "198.51.100.7", "h.example", "bounce@example.com", e.message(t, "ceo@example.com"), false)
	if len(o.verdict.Scores) != 1 || o.verdict.Scores[0] != (filters.Score{Test: "SPF_FAIL", Points: 3.5}) {
		t.Errorf("scores %+v, want only SPF_FAIL=3.5", o.verdict.Scores)
	}
	if _, err := New(Config{Resolver: e.res, Hostname: "h", Weights: map[string]float64{"SPF_FIAL": 1}}); err == nil {
		t.Error("a weight for an unknown test was accepted")
	}
}

// Our own users are not checked, but a forged header in our name is still
// removed.
func TestRelayClientsSkipped(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{})
	msg := append([]byte("Authentication-Results: mx.example.org; spf=pass\r\n"), e.message(t, "a@example.com")...)
	o := run(t, c, "198.51.100.7", "h.example", "bounce@example.com", msg, true)
	if !o.verdict.IsPass() || o.header != "" {
		t.Errorf("relay client checked: %+v header %q", o.verdict, o.header)
	}
	if !o.tr.Stripped("Authentication-Results", "mx.example.org; spf=pass") {
		t.Error("forged Authentication-Results kept for a relay client")
	}
	if e.srv.TotalQueries() != 0 {
		t.Errorf("%d DNS queries for a relay client", e.srv.TotalQueries())
	}
}

func TestStripOurs(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{})
	o := run(t, c, "192.0.2.10", "h.example", "a@example.com", e.message(t, "a@example.com"), false)
	for _, tc := range []struct {
		name, value string
		strip       bool
	}{
		{"Authentication-Results", "mx.example.org; spf=pass smtp.mailfrom=a@example.com", true},
		{"authentication-results", "MX.Example.ORG. 1; dkim=pass", true},
		{"Authentication-Results", "(forged) mx.example.org;\r\n\tdmarc=pass", true},
		{"Authentication-Results", "mx.example.org", true},
		{"Authentication-Results", "other.example.net; spf=pass smtp.mailfrom=mx.example.org", false},
		{"Authentication-Results", "mx.example.org.evil.example; spf=pass", false},
		{"X-Authentication-Results", "mx.example.org; spf=pass", false},
		// Quoted, with quoted-pairs, with a version: still our name.
		{"Authentication-Results", `"mx.example.org"; dkim=pass`, true},
		{"Authentication-Results", `"mx\.example\.org" 1; dkim=pass`, true},
		{"Authentication-Results", `"mx.example.org`, true},
		// No authserv-id to read: no one's valid result, dropped.
		{"Authentication-Results", "(a (b) mx.example.org; dkim=pass", true},
		{"Authentication-Results", "(all comment)", true},
		{"Authentication-Results", "", true},
		{"Authentication-Results", `""; dkim=pass`, true},
		// Our name elsewhere than the authserv-id.
		{"Authentication-Results", "other.example (mx.example.org); dkim=pass", false},
		{"Authentication-Results", `"other.example"; dkim=pass header.d=mx.example.org`, false},
	} {
		if got := o.tr.Stripped(tc.name, tc.value); got != tc.strip {
			t.Errorf("Stripped(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.strip)
		}
	}
}

// A message over the verification bound is not read; its signature is
// reported as not judged rather than broken.
func TestDKIMMaxBytes(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{MaxBytes: 100})
	o := run(t, c, "192.0.2.10", "h.example", "a@example.com", e.message(t, "a@example.com", "example.com/ed"), false)
	if !strings.Contains(o.header, "dkim=policy") || strings.Contains(tests(o.verdict), "DKIM") {
		t.Errorf("header %q tests %q", o.header, tests(o.verdict))
	}
}
