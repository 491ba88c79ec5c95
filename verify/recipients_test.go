package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rcpt(t *testing.T, r *Recipients, c *filters.ClientConn, addr string) filters.Verdict {
	t.Helper()
	return r.CheckRcpt(context.Background(), filters.NewTransaction(c, "Q1"), addr)
}

func TestRecipientsTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recipients.txt")
	writeFile(t, path, "# users\nAlice@Example.org\n  bob@example.org  \n\n  # indented comment\n@catchall.example.org\n")
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org", "catchall.example.org", "other.example.org"}, File: path})
	if err != nil {
		t.Fatal(err)
	}
	unknown := func(a string) filters.Reply { return filters.ReplyUnknownRecipient.About(a) }
	tests := []struct {
		rcpt  string
		relay bool
		want  filters.Reply
	}{
		{rcpt: "alice@example.org"},
		{rcpt: "ALICE@EXAMPLE.ORG"},
		{rcpt: "<bob@example.org.>"},
		{rcpt: "carol@example.org", want: unknown("carol@example.org")},
		{rcpt: "carol@example.org", relay: true, want: unknown("carol@example.org")},
		{rcpt: "anyone@catchall.example.org"},
		{rcpt: "alice@other.example.org", want: unknown("alice@other.example.org")},
		{rcpt: "someone@elsewhere.test"}, // not local: relay control's business
		{rcpt: "alice%x@example.org"},    // a trick: relay control's business
	}
	for _, tt := range tests {
		c := newConn(t, "198.51.100.7")
		c.SetRelayClient(tt.relay)
		v := rcpt(t, r, c, tt.rcpt)
		if v.Reply != tt.want {
			t.Errorf("%s (relay %v): %q, want %q", tt.rcpt, tt.relay, v.Reply, tt.want)
		}
	}
	if got, want := rcpt(t, r, newConn(t, "198.51.100.7"), "carol@example.org").Reply.String(),
		"550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown in local recipient table"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}

func TestRecipientsTableReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recipients.txt")
	writeFile(t, path, "alice@example.org\n")
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org"}, File: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.table.now = func() time.Time { return now }
	c := newConn(t, "198.51.100.7")
	if v := rcpt(t, r, c, "carol@example.org"); v.Reply.Code != 550 {
		t.Fatalf("carol before the edit: %v", v.Reply)
	}

	writeFile(t, path, "alice@example.org\ncarol@example.org\n")
	// Within the second the file is not looked at again.
	if v := rcpt(t, r, c, "carol@example.org"); v.Reply.Code != 550 {
		t.Fatalf("carol within the check interval: %v", v.Reply)
	}
	now = now.Add(tableCheckInterval)
	if v := rcpt(t, r, c, "carol@example.org"); !v.IsPass() {
		t.Fatalf("carol after the edit: %v", v.Reply)
	}

	// A broken edit keeps the previous contents.
	writeFile(t, path, "alice@example.org\ncarol@example.org\nnot an address\n")
	now = now.Add(tableCheckInterval)
	if v := rcpt(t, r, c, "carol@example.org"); !v.IsPass() {
		t.Fatalf("carol after a broken edit: %v", v.Reply)
	}
	// So does a vanished file.
	os.Remove(path)
	now = now.Add(tableCheckInterval)
	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice after the file vanished: %v", v.Reply)
	}
	writeFile(t, path, "dave@example.org\n")
	now = now.Add(tableCheckInterval)
	if v := rcpt(t, r, c, "alice@example.org"); v.Reply.Code != 550 {
		t.Fatalf("alice after she was removed: %v", v.Reply)
	}
}

func TestRecipientsTableErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewRecipients(RecipientsConfig{File: filepath.Join(dir, "missing.txt")}); err == nil {
		t.Error("a missing recipients file was accepted")
	}
	bad := filepath.Join(dir, "bad.txt")
	writeFile(t, bad, "alice@example.org\n@\n")
	if _, err := NewRecipients(RecipientsConfig{File: bad}); err == nil {
		t.Error("a recipients file with a bare @ was accepted")
	}
}

func TestRecipientCallout(t *testing.T) {
	backend := smtptest.Start(t, smtptest.Options{})
	backend.RefuseRcpt("nobody@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user here"})
	backend.RefuseRcpt("busy@example.org", filters.Reply{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full"})
	co := NewCallout(CalloutConfig{Hostname: "gw.test", Timeout: 5 * time.Second, Rate: -1})
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org"}, Callout: co, Backend: backend.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(t, "198.51.100.7")

	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice: %v (%s)", v.Reply, v.Reason)
	}
	if v := rcpt(t, r, c, "Alice@Example.org"); !v.IsPass() {
		t.Fatalf("Alice: %v (%s)", v.Reply, v.Reason)
	}
	if n := backend.Connections(); n != 1 {
		t.Fatalf("%d probes for alice, want 1 (the second answered from the cache)", n)
	}

	v := rcpt(t, r, c, "nobody@example.org")
	want := "550 5.1.1 <nobody@example.org>: Recipient address rejected: undeliverable address; backend said: 550 5.1.1 No such user here"
	if v.Reply.String() != want || v.Action != filters.Reject {
		t.Fatalf("nobody: %q, want %q", v.Reply, want)
	}
	if v := rcpt(t, r, c, "nobody@example.org"); v.Reply.String() != want {
		t.Fatalf("nobody from the cache: %q, want %q", v.Reply, want)
	}
	if n := backend.Connections(); n != 2 {
		t.Fatalf("%d probes after nobody twice, want 2", n)
	}

	// A 4xx is not remembered: the next RCPT asks again.
	for range 2 {
		v := rcpt(t, r, c, "busy@example.org")
		if v.Reply != filters.ReplyRecipientTempfail.About("busy@example.org") || v.Action != filters.Tempfail {
			t.Fatalf("busy: %q", v.Reply)
		}
	}
	if n := backend.Connections(); n != 4 {
		t.Fatalf("%d probes after busy twice, want 4", n)
	}

	// Recipients outside the local domains are not probed.
	if v := rcpt(t, r, c, "x@elsewhere.test"); !v.IsPass() {
		t.Fatalf("foreign recipient: %v", v.Reply)
	}
	if n := backend.Connections(); n != 4 {
		t.Fatalf("a foreign recipient was probed")
	}

	// The probe is MAIL FROM:<>, RCPT TO and nothing else: no message.
	if n := backend.Count(); n != 0 {
		t.Fatalf("the backend received %d messages from probes", n)
	}

	// Backend down: tempfail, and the known answers still stand.
	backend.Stop()
	if v := rcpt(t, r, c, "carol@example.org"); v.Reply != filters.ReplyRecipientTempfail.About("carol@example.org") {
		t.Fatalf("backend down: %q", v.Reply)
	}
	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice from the cache with the backend down: %v", v.Reply)
	}
}

func TestRecipientCalloutWithTable(t *testing.T) {
	backend := smtptest.Start(t, smtptest.Options{})
	path := filepath.Join(t.TempDir(), "recipients.txt")
	writeFile(t, path, "alice@example.org\n")
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org"}, File: path,
		Callout: NewCallout(CalloutConfig{Rate: -1}), Backend: backend.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(t, "198.51.100.7")
	if v := rcpt(t, r, c, "carol@example.org"); v.Reply.Code != 550 {
		t.Fatalf("carol: %v", v.Reply)
	}
	if n := backend.Connections(); n != 0 {
		t.Fatalf("a recipient the table refused was probed")
	}
	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice: %v", v.Reply)
	}
	if n := backend.Connections(); n != 1 {
		t.Fatalf("%d probes, want 1", n)
	}
}

func TestCalloutRateLimit(t *testing.T) {
	backend := smtptest.Start(t, smtptest.Options{})
	co := NewCallout(CalloutConfig{Rate: 1, Burst: 3})
	now := time.Now()
	co.limit.now = func() time.Time { return now }
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org", "example.net"}, Callout: co, Backend: backend.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(t, "198.51.100.7")
	for i, a := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		if v := rcpt(t, r, c, a); !v.IsPass() {
			t.Fatalf("probe %d within the burst: %v", i, v.Reply)
		}
	}
	// Over the burst: tempfail without a probe.
	v := rcpt(t, r, c, "d@example.org")
	if v.Reply != filters.ReplyRecipientTempfail.About("d@example.org") {
		t.Fatalf("over the limit: %q", v.Reply)
	}
	if n := backend.Connections(); n != 3 {
		t.Fatalf("%d probes, want 3", n)
	}
	// Known answers do not need a token.
	if v := rcpt(t, r, c, "a@example.org"); !v.IsPass() {
		t.Fatalf("cached answer over the limit: %v", v.Reply)
	}
	// Another domain has its own bucket.
	if v := rcpt(t, r, c, "a@example.net"); !v.IsPass() {
		t.Fatalf("another domain: %v", v.Reply)
	}
	// A second later there is one token again.
	now = now.Add(time.Second)
	if v := rcpt(t, r, c, "d@example.org"); !v.IsPass() {
		t.Fatalf("after a second: %v", v.Reply)
	}
	if v := rcpt(t, r, c, "e@example.org"); v.Action != filters.Tempfail {
		t.Fatalf("second probe in that second: %v", v.Reply)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(10, 20)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	n := 0
	for l.allow("example.org") {
		n++
	}
	if n != 20 {
		t.Fatalf("burst of %d, want 20", n)
	}
	now = now.Add(500 * time.Millisecond)
	n = 0
	for l.allow("example.org") {
		n++
	}
	if n != 5 {
		t.Fatalf("%d tokens after half a second at 10/s, want 5", n)
	}
	now = now.Add(time.Hour)
	n = 0
	for l.allow("example.org") {
		n++
	}
	if n != 20 {
		t.Fatalf("%d tokens after an hour, want the burst of 20", n)
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add("alice@example.org\n@example.net\n\n# comment\n")
	f.Add("\"quoted user\"@Example.org.\n")
	f.Add("@\n")
	f.Fuzz(func(t *testing.T, text string) {
		addrs, domains, err := parseTable(strings.NewReader(text), "fuzz")
		if err != nil {
			return
		}
		for k := range addrs {
			if k != strings.ToLower(k) || !strings.Contains(k, "@") {
				t.Errorf("key %q is not a lowercased address", k)
			}
		}
		for d := range domains {
			if d == "" || d != normalizeDomain(d) {
				t.Errorf("domain %q is not normalised", d)
			}
		}
	})
}

func TestRecipientsTableNoInlineComments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recipients.txt")
	writeFile(t, path, "alice@example.org # not a comment\n")
	if _, err := NewRecipients(RecipientsConfig{File: path}); err == nil {
		t.Error("text after an address was accepted; check-config refuses it")
	}
}
