package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitNth waits until n log lines match re and returns the last.
func waitNth(g *Gateway, re string, n int, d time.Duration) (string, bool) {
	rx := regexp.MustCompile(re)
	deadline := time.After(d)
	for {
		g.log.mu.Lock()
		var hits []string
		for _, line := range strings.Split(g.log.b.String(), "\n") {
			if rx.MatchString(line) {
				hits = append(hits, line)
			}
		}
		ch := g.log.changed
		g.log.mu.Unlock()
		if len(hits) >= n {
			return hits[n-1], true
		}
		select {
		case <-ch:
		case <-deadline:
			return "", false
		}
	}
}

// TestReloadRefusesBlankAndCutFiles: SIGHUP with a file that sets no key,
// or one cut short while being written, keeps the running configuration
// (applying it would mean the built-in defaults: no local domains, every
// RCPT refused); a good reload logs each key it adds, removes or changes.
func TestReloadRefusesBlankAndCutFiles(t *testing.T) {
	g := Start(t, Options{})
	rcptOK := func(when string) {
		t.Helper()
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		if r := c.Cmd("RCPT TO:<u@example.org>"); r.Code != 250 {
			t.Errorf("%s: RCPT to a local domain got %s", when, r)
		}
	}
	rcptOK("before")
	refused := 0
	for _, tc := range []struct {
		name, text, why string
	}{
		{"empty", "", "sets no key"},
		{"white space", "\n   \n", "sets no key"},
		{"comments only", "# domains: [example.org]\n# backend: 127.0.0.1:25\n", "sets no key"},
		{"empty document", "---\n", "sets no key"},
		{"null", "~\n", "sets no key"},
		{"empty mapping", "{}\n", "sets no key"},
		{"cut mid-line", "hostname: mx.test\nlisten: 127.0.0.1:0\nbackend: " + g.Backend.Addr + "\ndata_dir: " + g.Settings["data_dir"].(string), "does not end with a line end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			WriteConfigRaw(t, g.ConfigPath, tc.text)
			g.Signal(syscall.SIGHUP)
			refused++
			line, ok := waitNth(g, `msg="reload refused; keeping the running configuration"`, refused, 10*time.Second)
			if !ok {
				t.Fatalf("reload of a %s file not refused:\n%s", tc.name, g.Log())
			}
			if !strings.Contains(line, tc.why) {
				t.Errorf("refusal %q does not say %q", line, tc.why)
			}
			rcptOK("after a " + tc.name + " file")
		})
	}
	if n := len(g.LogLines(`msg="configuration reloaded"`)); n != 0 {
		t.Fatalf("%d reloads applied", n)
	}

	// A good reload names what it changed.
	g.Reconfigure(map[string]any{"domains": []string{"example.org", "example.net"}, "max_recipients": 50})
	g.Signal(syscall.SIGHUP)
	if _, ok := waitNth(g, `msg="configuration reloaded"`, 1, 10*time.Second); !ok {
		t.Fatal("no reload")
	}
	for _, want := range []string{
		`msg="configuration key added" key=domains\[1\] value=example.net`,
		`msg="configuration key changed" key=max_recipients old=100 new=50`,
		`msg="configuration reloaded" .*changes=2`,
	} {
		if len(g.LogLines(want)) != 1 {
			t.Errorf("no log line %s:\n%s", want, g.Log())
		}
	}
	g.Reconfigure(map[string]any{"domains": []string{"example.org"}})
	g.Signal(syscall.SIGHUP)
	if _, ok := waitNth(g, `msg="configuration reloaded"`, 2, 10*time.Second); !ok {
		t.Fatal("no second reload")
	}
	if len(g.LogLines(`msg="configuration key removed" key=domains\[1\] value=example.net`)) != 1 {
		t.Errorf("removal not logged:\n%s", g.Log())
	}
	rcptOK("after good reloads")
}
