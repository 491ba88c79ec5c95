package rules

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailguard/quarantine"
)

func TestQuarantineConfig(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte("quarantine: {retention: 168h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.Quarantine
	if q.Retention != 7*24*time.Hour || q.MaxBytes != quarantine.DefaultMaxBytes || q.RetryFirst != time.Minute || q.RetryMax != time.Hour {
		t.Errorf("quarantine %+v", q)
	}
	if d := Default().Quarantine.Retention; d != 30*24*time.Hour {
		t.Errorf("default retention %v, want 30 days", d)
	}
}

func TestQuarantineConfigProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-users")
	os.WriteFile(bad, []byte("alice:plain\n"), 0o600)
	expectProblems(t, 0, []problemCase{
		{"quarantine: {retention: 10m}", "quarantine.retention", "at least 1h"},
		{"quarantine: {max_bytes: 1000}", "quarantine.max_bytes", "at least one message"},
		{"quarantine: {retry_first: 2h, retry_max: 1h}", "quarantine.retry_max", "at least retry_first"},
		{"web: {listen: 127.0.0.1:8080, users_file: " + bad + "}", "web.users_file", `user "alice": the hash is not bcrypt`},
		{"web: {listen: 127.0.0.1:8080, users_file: " + filepath.Join(dir, "none") + "}", "web.users_file", "no such file"},
		{"web: {listen: 127.0.0.1:8080, tls: {cert: x.pem}}", "web.tls", "both cert and key"},
		{"quarantine: {digest: {enabled: true, url: mx.example.org}}", "quarantine.digest.url", "http(s)://host"},
		{"quarantine: {digest: {enabled: true, url: https://mx.example.org}}", "quarantine.digest.enabled", "set web.listen"},
		{"quarantine: {digest: {enabled: true, url: https://mx.example.org, from: nobody}}", "quarantine.digest.from", "must be an address"},
		{"quarantine: {digest: {enabled: true, url: https://mx.example.org, every: 10s}}", "quarantine.digest.every", "at least 1m"},
	})
}
