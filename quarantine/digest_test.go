package quarantine_test

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"mailguard/quarantine"
)

func TestLinkSignVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	k, err := quarantine.LoadLinkKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := quarantine.LoadLinkKey(path)
	if err != nil || string(k2) != string(k) {
		t.Fatalf("the key changed between loads: %v", err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q := k.Sign("ABC123", "U@example.org", now.Add(time.Hour))
	if rc, err := k.Verify("abc123", q, now); err != nil || rc != "u@example.org" {
		t.Errorf("valid link: %q %v", rc, err)
	}
	alter := func(key, v string) url.Values {
		c := url.Values{}
		for k, x := range q {
			c[k] = x
		}
		c.Set(key, v)
		return c
	}
	for name, c := range map[string]struct {
		id  string
		q   url.Values
		now time.Time
	}{
		"expired":         {"ABC123", q, now.Add(2 * time.Hour)},
		"other message":   {"ABC124", q, now},
		"other recipient": {"ABC123", alter("r", "v@example.org"), now},
		"longer life":     {"ABC123", alter("e", "9999999999"), now},
		"forged":          {"ABC123", alter("s", "AAAA"), now},
		"no signature":    {"ABC123", alter("s", ""), now},
	} {
		if _, err := k.Verify(c.id, c.q, c.now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	other, _ := quarantine.LoadLinkKey(filepath.Join(t.TempDir(), "key"))
	if _, err := other.Verify("ABC123", q, now); err == nil {
		t.Errorf("another key accepted the link")
	}
}
