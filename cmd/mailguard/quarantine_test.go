package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailguard/classifier"
	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
	"mailguard/quarantine"
	"mailguard/rules"
)

// quarantineConfig writes a configuration whose data_dir is a fresh
// directory, and returns its path and the data_dir.
func quarantineConfig(t *testing.T) (config, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	config = filepath.Join(dir, "mailguard.yaml")
	if err := os.WriteFile(config, []byte("data_dir: "+dataDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, dataDir
}

func runQ(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := runQuarantine(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// Without a quarantine directory, list says so and fails: an empty table
// would hide a data_dir that names the wrong place.
func TestQuarantineListNoDataDir(t *testing.T) {
	config, dataDir := quarantineConfig(t)
	out, errOut, code := runQ("-config", config, "list")
	if code != exitFailed || out != "" || !strings.Contains(errOut, "no quarantine at "+filepath.Join(dataDir, "quarantine")) {
		t.Errorf("list without a quarantine: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("looking created the data directory: %v", err)
	}
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkKeys fails on any key of v, at any depth, that is not snake_case.
func checkKeys(t *testing.T, path string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snake.MatchString(k) {
				t.Errorf("-json key %s.%s is not snake_case", path, k)
			}
			checkKeys(t, path+"."+k, x)
		}
	case []any:
		for _, x := range v {
			checkKeys(t, path+"[]", x)
		}
	}
}

// list -json uses snake_case keys throughout, and subjects as UTF-8 text
// whether the message encoded them (RFC 2047) or sent raw 8-bit bytes;
// the table shows the queue id, found by show in either case.
func TestQuarantineListJSON(t *testing.T) {
	config, dataDir := quarantineConfig(t)
	st, err := quarantine.OpenDir(filepath.Join(dataDir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]string{
		"=?utf-8?q?Gr=C3=BC=C3=9Fe?=": "Grüße",
		"caf\xe9 au lait":             "café au lait",
		"\xe6\x97\xa5\xe6\x9c\xac":    "日本",
	}
	ids := []string{"0A1B2C3D4E5F", "0A1B2C3D4E60", "0A1B2C3D4E61"}
	i := 0
	for raw := range subjects {
		e := quarantine.Entry{ID: ids[i], QueueID: ids[i], MailFrom: "s@example.com", Rcpts: []string{"u@example.org"}, Score: 12,
			Tests: []filters.Score{{Test: "GTUBE", Points: 1000}}, Bayes: &quarantine.Bayes{Prob: 0.99, Clues: []quarantine.Clue{{Token: "viagra", Prob: 0.99}}},
			Release: nil}
		if _, err := st.Put(context.Background(), e, strings.NewReader("From: s@example.com\r\nSubject: "+raw+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
		i++
	}
	out, errOut, code := runQ("-config", config, "list", "-json")
	if code != 0 {
		t.Fatalf("list -json: exit %d: %s", code, errOut)
	}
	var generic []any
	if err := json.Unmarshal([]byte(out), &generic); err != nil {
		t.Fatalf("list -json: %v\n%s", err, out)
	}
	checkKeys(t, "", generic)
	first := generic[0].(map[string]any)
	for _, k := range []string{"id", "queue_id", "time", "client_ip", "helo", "mail_from", "rcpts", "score", "tests", "size", "from", "subject", "bayes"} {
		if _, ok := first[k]; !ok {
			t.Errorf("-json lacks key %q: %v", k, first)
		}
	}
	if tests := first["tests"].([]any)[0].(map[string]any); tests["test"] != "GTUBE" || tests["points"] != 1000.0 {
		t.Errorf("tests entry %v", tests)
	}
	var entries []quarantine.Entry
	json.Unmarshal([]byte(out), &entries)
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Subject] = true
	}
	for _, want := range subjects {
		if !got[want] {
			t.Errorf("-json subjects %v lack %q", got, want)
		}
	}

	out, _, _ = runQ("-config", config, "list")
	if !strings.HasPrefix(out, "QUEUE ID") || !strings.Contains(out, "0A1B2C3D4E5F") || !strings.Contains(out, "café au lait") || strings.Contains(out, "\uFFFD") {
		t.Errorf("list table:\n%s", out)
	}
	out, errOut, code = runQ("-config", config, "show", "0a1b2c3d4e5f")
	if code != 0 || !strings.Contains(out, "Queue ID:  0A1B2C3D4E5F") || !strings.Contains(out, `"viagra" 0.990`) {
		t.Errorf("show in lower case: exit %d: %s%s", code, out, errOut)
	}
}

// release -learn and delete -learn: one flag each teaches the classifier
// the reviewer's decision along with the action.
func TestQuarantineLearnFlags(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	config := filepath.Join(dir, "mailguard.yaml")
	if err := os.WriteFile(config, []byte("data_dir: "+dataDir+"\nbackend: "+be.Addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := quarantine.OpenDir(filepath.Join(dataDir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"AAAA00000001", "AAAA00000002"} {
		msg := "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=11.0 required=5.0 tests=X\r\nFrom: s@example.com\r\nSubject: " + id + "\r\n\r\nbody of " + id + "\r\n"
		if _, err := st.Put(context.Background(), quarantine.Entry{ID: id, MailFrom: "s@example.com", Rcpts: []string{"u@example.org"}}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	totals := func() classifier.Totals {
		cfg, err := rules.Load(config)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := openTokenStore(cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
		tot, err := ts.Totals(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tot
	}
	out, errOut, code := runQ("-config", config, "release", "-learn", "-by", "bob", "aaaa00000001")
	if code != 0 || !strings.Contains(out, "learnt AAAA00000001 as ham") || !strings.Contains(out, "released AAAA00000001") {
		t.Fatalf("release -learn: exit %d: %s%s", code, out, errOut)
	}
	if m := be.Messages(); len(m) != 1 || !strings.Contains(string(m[0].Data), "X-Spam-Status: No, score=11.0 required=5.0 tests=X released by bob\r\n") || strings.Contains(string(m[0].Data), "X-Spam-Flag") {
		t.Errorf("backend got %+v", m)
	}
	if tot := totals(); tot.Ham != 1 || tot.Spam != 0 {
		t.Errorf("after release -learn: %+v", tot)
	}
	out, errOut, code = runQ("-config", config, "delete", "-learn", "AAAA00000002")
	if code != 0 || !strings.Contains(out, "learnt AAAA00000002 as spam") || !strings.Contains(out, "deleted AAAA00000002") {
		t.Fatalf("delete -learn: exit %d: %s%s", code, out, errOut)
	}
	if tot := totals(); tot.Ham != 1 || tot.Spam != 1 {
		t.Errorf("after delete -learn: %+v", tot)
	}
	if l, _ := st.List(context.Background()); len(l) != 0 {
		t.Errorf("still held: %v", l)
	}
	if be.Count() != 1 {
		t.Errorf("backend has %d messages", be.Count())
	}
}
