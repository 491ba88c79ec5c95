package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

// quarantineSettings hold GTUBE (1000 points) in the quarantine instead of
// refusing it.
var quarantineSettings = map[string]any{
	"thresholds": map[string]any{"tag": 5, "quarantine": 10, "reject": 5000},
}

// gtube is SpamAssassin's test string (SPEC.md): 1000 points.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

type listed struct {
	ID       string          `json:"id"`
	QueueID  string          `json:"queue_id"`
	ClientIP string          `json:"client_ip"`
	MailFrom string          `json:"mail_from"`
	Rcpts    []string        `json:"rcpts"`
	Score    float64         `json:"score"`
	Tests    []filters.Score `json:"tests"`
	Subject  string          `json:"subject"`
}

func quarantineList(t *testing.T, g *Gateway) []listed {
	t.Helper()
	out, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "list", "-json")
	if code != 0 {
		t.Fatalf("quarantine list -json: exit %d: %s", code, errOut)
	}
	var l []listed
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("quarantine list -json: %v\n%s", err, out)
	}
	return l
}

func sendGTUBE(t *testing.T, g *Gateway, subject string) smtptest.Reply {
	t.Helper()
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client2.example.com")
	msg := authMsg("", "Hello\r\n"+gtube+"\r\n")
	msg = bytes.Replace(msg, []byte("Subject: authentication"), []byte("Subject: "+subject), 1)
	return c.Send("a@example.com", []string{"u@example.org", "v@example.org"}, msg)
}

// TestQuarantineHoldAndRelease: a message over the quarantine threshold is
// answered 250 once it is in the store, never reaches the backend, is
// listed and shown by the operator's command, and release delivers it with
// its envelope.
func TestQuarantineHoldAndRelease(t *testing.T) {
	g := Start(t, Options{Settings: quarantineSettings})
	r := sendGTUBE(t, g, "held one")
	if r.Code != 250 {
		t.Fatalf("GTUBE over the quarantine threshold: %s, want 250", r)
	}
	qid := RequireQueueID(t, r)
	// The 250 came after the write: the entry is there already.
	l := quarantineList(t, g)
	if len(l) != 1 {
		t.Fatalf("quarantine holds %d messages after the 250, want 1", len(l))
	}
	e := l[0]
	if e.QueueID != qid || e.ClientIP != "127.0.0.2" || e.MailFrom != "a@example.com" ||
		strings.Join(e.Rcpts, ",") != "u@example.org,v@example.org" || e.Score < 1000 || e.Subject != "held one" {
		t.Errorf("entry %+v", e)
	}
	if n := g.Backend.Count(); n != 0 {
		t.Fatalf("backend got %d messages; a quarantined message must not be relayed", n)
	}

	out, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "list")
	if code != 0 {
		t.Fatalf("quarantine list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "QUEUE ID") || !strings.Contains(lines[0], "SUBJECT") {
		t.Fatalf("list table:\n%s", out)
	}
	for _, want := range []string{e.ID, "a@example.com", "u@example.org +1", "held one", filters.FormatPoints(e.Score)} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("list row %q lacks %q", lines[1], want)
		}
	}

	out, _, code = Run(t, nil, "quarantine", "-config", g.ConfigPath, "show", e.ID)
	if code != 0 || !strings.Contains(out, "GTUBE=1000.0") || !strings.Contains(out, gtube) ||
		!strings.Contains(out, "X-Spam-Status: Yes") || !strings.Contains(out, "Queue ID:  "+qid) {
		t.Errorf("show: exit %d:\n%s", code, out)
	}

	out, errOut, code = Run(t, nil, "quarantine", "-config", g.ConfigPath, "release", e.ID)
	if code != 0 || !strings.Contains(out, "released "+e.ID) {
		t.Fatalf("release: exit %d: %s %s", code, out, errOut)
	}
	got := g.Backend.Wait(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("backend has %d messages after release", len(got))
	}
	if got[0].From != "a@example.com" || strings.Join(got[0].Rcpts, ",") != "u@example.org,v@example.org" ||
		!bytes.Contains(got[0].Data, []byte(gtube)) || !bytes.Contains(got[0].Data, []byte("Subject: held one")) {
		t.Errorf("released message: from %q rcpts %v\n%s", got[0].From, got[0].Rcpts, got[0].Data)
	}
	if l := quarantineList(t, g); len(l) != 0 {
		t.Errorf("released message still held: %+v", l)
	}
	// It is gone: a second release fails and delivers nothing.
	_, errOut, code = Run(t, nil, "quarantine", "-config", g.ConfigPath, "release", e.ID)
	if code != 1 || !strings.Contains(errOut, "no message "+e.ID) || !strings.Contains(errOut, "it was released by ") {
		t.Errorf("second release: exit %d: %s; want it to say the message was released", code, errOut)
	}
	if n := g.Backend.Count(); n != 1 {
		t.Errorf("backend has %d messages after a second release", n)
	}
}

// TestQuarantineReleaseRefused: a backend refusing the message for now
// keeps it held, marked released, for the gateway to retry: nothing is
// lost, and a second release does not deliver it twice.
func TestQuarantineReleaseRefused(t *testing.T) {
	g := Start(t, Options{Settings: merge(quarantineSettings, map[string]any{"quarantine": map[string]any{"retry_first": "1s", "retry_max": "2s"}})})
	if r := sendGTUBE(t, g, "refused"); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	id := quarantineList(t, g)[0].ID
	g.Backend.RefuseData(filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "disk full"})
	out, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "release", id)
	if code != 0 || !strings.Contains(out, "deferred") || !strings.Contains(out, "disk full") {
		t.Errorf("release to a refusing backend: exit %d: %s %s", code, out, errOut)
	}
	if l := quarantineList(t, g); len(l) != 1 {
		t.Errorf("message lost after a refused release: %+v", l)
	}
	_, errOut, code = Run(t, nil, "quarantine", "-config", g.ConfigPath, "release", id)
	if code != 1 || !strings.Contains(errOut, "already released") {
		t.Errorf("second release: exit %d: %s", code, errOut)
	}
	// The backend takes mail again: the running gateway delivers it, once.
	g.Backend.RefuseData(filters.Reply{})
	got := g.Backend.Wait(1, time.Minute)
	if len(got) != 1 {
		t.Fatalf("backend has %d messages after it came back; the gateway did not retry the release", len(got))
	}
	if !bytes.Contains(got[0].Data, []byte("X-Spam-Status: No, ")) || bytes.Contains(got[0].Data, []byte("X-Spam-Flag")) {
		t.Errorf("retried release:\n%s", got[0].Data)
	}
	if _, ok := g.WaitLog(`msg="quarantine release delivered" queue_id=`+id, 30*time.Second); !ok {
		t.Errorf("no log line for the retried delivery")
	}
	if l := quarantineList(t, g); len(l) != 0 {
		t.Errorf("delivered release still held: %+v", l)
	}
	if n := g.Backend.Count(); n != 1 {
		t.Errorf("backend has %d messages", n)
	}
}

func TestQuarantineDeleteAndUsage(t *testing.T) {
	g := Start(t, Options{Settings: quarantineSettings})
	for _, s := range []string{"first", "second"} {
		if r := sendGTUBE(t, g, s); r.Code != 250 {
			t.Fatalf("send: %s", r)
		}
	}
	l := quarantineList(t, g)
	if len(l) != 2 || l[0].Subject != "first" || l[1].Subject != "second" {
		t.Fatalf("list: %+v", l)
	}
	out, _, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "delete", l[0].ID)
	if code != 0 || !strings.Contains(out, "deleted "+l[0].ID) {
		t.Errorf("delete: exit %d %s", code, out)
	}
	if l2 := quarantineList(t, g); len(l2) != 1 || l2[0].ID != l[1].ID {
		t.Errorf("after delete: %+v", l2)
	}
	// -config may also come before the command.
	if out, _, code := Run(t, nil, "quarantine", "list", "-config", g.ConfigPath); code != 0 || !strings.Contains(out, l[1].ID) {
		t.Errorf("list -config after the command: exit %d\n%s", code, out)
	}
	// Deleted: a second delete says so.
	if _, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "delete", strings.ToLower(l[0].ID)); code != 1 || !strings.Contains(errOut, "it was deleted by ") {
		t.Errorf("second delete: exit %d: %s; want it to say the message was deleted", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"show", "../../etc/passwd"}, 1},
		{[]string{"show"}, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"learn", l[1].ID, "maybe"}, 2},
	} {
		if _, errOut, code := Run(t, nil, append([]string{"quarantine", "-config", g.ConfigPath}, tc.args...)...); code != tc.code {
			t.Errorf("quarantine %v: exit %d, want %d: %s", tc.args, code, tc.code, errOut)
		}
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
}

// TestQuarantineLearn: learn feeds the held message to the token store the
// classifier reads, while serve runs (the gateway opens the embedded store
// per message, so it does not keep other processes out).
func TestQuarantineLearn(t *testing.T) {
	g := Start(t, Options{Settings: quarantineSettings})
	if r := sendGTUBE(t, g, "learn me"); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	id := quarantineList(t, g)[0].ID
	out, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "learn", id, "spam")
	if code != 0 || !strings.Contains(out, "learnt "+id+" as spam") {
		t.Fatalf("learn: exit %d: %s %s", code, out, errOut)
	}
	out, _, code = Run(t, nil, "quarantine", "-config", g.ConfigPath, "learn", id, "spam")
	if code != 0 || !strings.Contains(out, "already") {
		t.Errorf("learning twice: exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(g.Dir, "data", "tokens.db")); err != nil {
		t.Errorf("no token store after learn: %v", err)
	}
	// The message stays held after learning.
	if l := quarantineList(t, g); len(l) != 1 || l[0].ID != id {
		t.Errorf("after learn: %+v", l)
	}
}

// TestQuarantineUnwritable: when the quarantine cannot be written the
// client gets 451 4.3.0 (it keeps the message and retries), never a 250,
// and nothing is relayed.
func TestQuarantineUnwritable(t *testing.T) {
	g := Start(t, Options{Settings: quarantineSettings})
	dir := filepath.Join(g.Dir, "data", "quarantine")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("the gateway did not create %s: %v", dir, err)
	}
	// Permissions do not stop root: replace the directory by a plain file,
	// which stops anyone.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("in the way\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(g.Dir, "data"), 0o500)
	t.Cleanup(func() { os.Chmod(filepath.Join(g.Dir, "data"), 0o700) })
	r := sendGTUBE(t, g, "nowhere to go")
	if r.Code != 451 || r.Enhanced != "4.3.0" {
		t.Fatalf("unwritable quarantine: %s, want 451 4.3.0", r)
	}
	RequireQueueID(t, r)
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
}
