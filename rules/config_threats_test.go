package rules

import (
	"testing"
	"time"

	"mailguard/attachments"
	"mailguard/uribl"
)

func TestThreatsConfig(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
uribl:
  - zone: dbl.example
    action: score
    weight: 4
  - zone: multi.example
    mask: "0.0.0.8"
    hosts: true
uribl_max_lookups: 5
attachments:
  extensions: [exe, .js]
  encrypted: {action: quarantine}
  max_depth: 2
antivirus: {clamd: "unix:/run/clamav/clamd.ctl", on_error: accept}
`))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.URIBL
	if len(u) != 2 || u[0].Action != "score" || u[0].Weight != 4 || u[1].Action != "reject" || !u[1].Hosts || u[1].Mask != "0.0.0.8" || cfg.URIBLMaxLookups != 5 {
		t.Errorf("uribl %+v, max %d", u, cfg.URIBLMaxLookups)
	}
	a := cfg.Attachments
	if !a.Enabled || len(a.Extensions) != 2 || a.Encrypted.Action != "quarantine" || a.Executable.Action != "reject" || a.MaxDepth != 2 || a.MaxFiles != attachments.DefaultMaxFiles {
		t.Errorf("attachments %+v", a)
	}
	av := cfg.Antivirus
	if av.Clamd != "unix:/run/clamav/clamd.ctl" || av.Action != "reject" || av.OnError != "accept" || av.Timeout != 30*time.Second {
		t.Errorf("antivirus %+v", av)
	}
	d := Default()
	if len(d.URIBL) != 0 || d.URIBLMaxLookups != uribl.DefaultMaxLookups || !d.Attachments.Enabled || d.Antivirus.Clamd != "" {
		t.Errorf("defaults: uribl %v/%d attachments %v antivirus %q", d.URIBL, d.URIBLMaxLookups, d.Attachments.Enabled, d.Antivirus.Clamd)
	}
	if _, err := BuildChain(cfg, &Deps{}); err == nil {
		t.Errorf("a chain with URI lists built without a resolver")
	}
}

func TestThreatsConfigProblems(t *testing.T) {
	tests := []problemCase{
		{"uribl: [{zone: ''}]", "uribl[0].zone", "must be set"},
		{"uribl: [{zone: dbl.example, action: drop}]", "uribl[0].action", "reject or score"},
		{"uribl: [{zone: dbl.example, action: score}]", "uribl[0].weight", "must be set"},
		{"uribl: [{zone: dbl.example, codes: [127.255.255.254]}]", "uribl[0].codes[0]", "query refused"},
		{"uribl: [{zone: dbl.example, hots: true}]", "uribl[0].hots", "hosts"},
		{"uribl_max_lookups: 0", "uribl_max_lookups", "1-1000"},
		{"attachments: {executable: {action: bounce}}", "attachments.executable.action", "reject, quarantine, score or off"},
		{"attachments: {mismatch: {action: score, weight: 0}}", "attachments.mismatch.weight", "not 0"},
		{"attachments: {extensions: [exe, 'a b']}", "attachments.extensions[1]", "extension"},
		{"attachments: {max_depth: 0}", "attachments.max_depth", "1-20"},
		{"attachments: {max_expanded_bytes: 10}", "attachments.max_expanded_bytes", "at least 1024"},
		{"antivirus: {clamd: localhost}", "antivirus.clamd", "host:port nor unix:/path"},
		{"antivirus: {clamd: '127.0.0.1:3310', action: delete}", "antivirus.action", "reject or quarantine"},
		{"antivirus: {on_error: retry}", "antivirus.on_error", "tempfail or accept"},
		{"antivirus: {timeout: 0s}", "antivirus.timeout", "over 0"},
	}
	expectProblems(t, 0, tests)
}
