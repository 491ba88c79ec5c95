package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// decisionRe matches a decision line of the text log.
var decisionRe = regexp.MustCompile(`level=INFO msg=(reject|relayed|quarantined) `)

// sendRefusedAndRelayed runs a transaction refused at RCPT by a DNSBL
// (127.0.0.2 is on bl.test) and one relayed, and returns their queue ids.
func sendRefusedAndRelayed(t *testing.T, g *Gateway) (refused, relayed string) {
	t.Helper()
	r, c := rcptReply(t, g, "127.0.0.2", "a@example.com")
	if r.Code != 554 {
		t.Fatalf("listed client: %s, want 554", r)
	}
	refused = RequireQueueID(t, r)
	c.Close()
	c = g.DialFrom("127.0.0.5")
	relayed = queueIDOf(t, c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg)))
	c.Close()
	return refused, relayed
}

var dnsblSettings = map[string]any{"dnsbl": []any{map[string]any{"zone": "bl.test", "action": "reject"}}}

// Each decision is one line, naming the filter, the test and the reply; the
// relayed message's line carries its score and tests.
func TestLogOneLinePerDecision(t *testing.T) {
	g := Start(t, Options{Zone: listsZone(t), Settings: dnsblSettings})
	refused, relayed := sendRefusedAndRelayed(t, g)
	if _, ok := g.WaitLog(`msg=disconnect .*\[127\.0\.0\.5\]`, 10*time.Second); !ok {
		t.Fatalf("no disconnect line:\n%s", g.Log())
	}
	byID := map[string][]string{}
	for _, l := range g.LogLines(decisionRe.String()) {
		if m := regexp.MustCompile(`queue_id=(\S+)`).FindStringSubmatch(l); m != nil {
			byID[m[1]] = append(byID[m[1]], l)
		}
	}
	if got := byID[refused]; len(got) != 1 ||
		!regexp.MustCompile(`msg=reject .*phase=RCPT filter=dnsbl test=RCVD_IN_BL_TEST reply="554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.2\] blocked using bl\.test`).MatchString(got[0]) {
		t.Errorf("decision lines of the refused transaction %s: %q, want one naming filter, test and reply", refused, got)
	}
	if got := byID[relayed]; len(got) != 1 || !regexp.MustCompile(`msg=relayed .*score=\S+ tests=\S* .*backend_reply=`).MatchString(got[0]) {
		t.Errorf("decision lines of the relayed message %s: %q, want one with score, tests and the backend's reply", relayed, got)
	}
	// Nothing else at INFO speaks of a transaction's verdict.
	for _, id := range []string{refused, relayed} {
		for _, l := range g.LogLines(`level=INFO.*queue_id=` + id) {
			if !decisionRe.MatchString(l) {
				t.Errorf("another INFO line for %s: %s", id, l)
			}
		}
	}
}

// log.format: json writes one JSON object a line, the same decision keys.
func TestLogJSON(t *testing.T) {
	settings := map[string]any{"log": map[string]any{"format": "json"}}
	for k, v := range dnsblSettings {
		settings[k] = v
	}
	g := Start(t, Options{Zone: listsZone(t), Settings: settings, NoWait: true})
	line, ok := g.WaitLog(`"msg":"listening","service":"smtp"`, 30*time.Second)
	if !ok {
		t.Fatalf("no listening line:\n%s", g.Log())
	}
	var l struct{ Addr string }
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Addr == "" {
		t.Fatalf("listening line %q: %v", line, err)
	}
	g.Addr = l.Addr
	refused, relayed := sendRefusedAndRelayed(t, g)
	if _, ok := g.WaitLog(`"msg":"disconnect".*127\.0\.0\.5`, 10*time.Second); !ok {
		t.Fatalf("no disconnect line:\n%s", g.Log())
	}
	decisions := map[string][]map[string]any{}
	for _, text := range strings.Split(strings.TrimSpace(g.Log()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			t.Errorf("not a JSON line: %q: %v", text, err)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("line without %q: %s", k, text)
			}
		}
		switch rec["msg"] {
		case "reject", "relayed", "quarantined":
			id, _ := rec["queue_id"].(string)
			decisions[id] = append(decisions[id], rec)
		}
	}
	if got := decisions[refused]; len(got) != 1 || got[0]["filter"] != "dnsbl" || got[0]["test"] != "RCVD_IN_BL_TEST" ||
		!strings.HasPrefix(got[0]["reply"].(string), "554 5.7.1 ") {
		t.Errorf("decisions of the refused transaction: %v", got)
	}
	if got := decisions[relayed]; len(got) != 1 || got[0]["msg"] != "relayed" || got[0]["score"] == nil || got[0]["tests"] == nil {
		t.Errorf("decisions of the relayed message: %v", got)
	}
}

// A message refused or held after its data names its recipients, as the
// relayed line does: the operator greps a recipient's address and finds
// every decision about mail to it.
func TestLogDataDecisionsNameRecipients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]any
		code     int
		msg      string
	}{
		{"refused", nil, 550, "reject"},
		{"quarantined", quarantineSettings, 250, "quarantined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := Start(t, Options{Settings: tc.settings})
			r := sendGTUBE(t, g, tc.name)
			if r.Code != tc.code {
				t.Fatalf("GTUBE: %s, want %d", r, tc.code)
			}
			id := RequireQueueID(t, r)
			// The log is read from the gateway's stderr: wait for the line.
			pattern := `msg=` + tc.msg + ` .*queue_id=` + id + ` .*to="?\[u@example\.org v@example\.org\]`
			if _, ok := g.WaitLog(pattern, 10*time.Second); !ok {
				t.Fatalf("no %s line for %s naming both recipients:\n%s", tc.msg, id, g.Log())
			}
			if got := g.LogLines(pattern); len(got) != 1 {
				t.Errorf("%d %s lines for %s, want one:\n%s", len(got), tc.msg, id, g.Log())
			}
		})
	}
}
