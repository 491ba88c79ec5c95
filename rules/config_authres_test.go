package rules

import (
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/resolver"
)

func TestSenderAuthConfig(t *testing.T) {
	d := Default().SenderAuth
	if !d.Enabled || d.DMARCReject || d.MaxBytes != 0 || d.SPFTimeout != 20*time.Second || d.Scores["SPF_FAIL"] != 1 {
		t.Errorf("defaults %+v", d)
	}
	cfg, err := Parse("test.yaml", []byte(`
hostname: mx.example.org
sender_auth:
  dmarc_reject: true
  max_bytes: 1048576
  scores: {SPF_FAIL: 2.5, DKIM_INVALID: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	sa := cfg.SenderAuth
	if !sa.Enabled || !sa.DMARCReject || sa.MaxBytes != 1<<20 || sa.Scores["SPF_FAIL"] != 2.5 ||
		sa.Scores["DKIM_INVALID"] != 0 || sa.Scores["DMARC_FAIL_REJECT"] != 4 {
		t.Errorf("sender_auth %+v", sa)
	}
}

func TestSenderAuthConfigProblems(t *testing.T) {
	tests := []problemCase{
		{"sender_auth: {scores: {SPF_FIAL: 1}}", "sender_auth.scores.SPF_FIAL", "did you mean SPF_FAIL"},
		{"sender_auth: {max_bytes: -1}", "sender_auth.max_bytes", "number of bytes"},
		{"sender_auth: {spf_timeout: 0s}", "sender_auth.spf_timeout", "over 0"},
	}
	expectProblems(t, 1, tests)
}

func TestBuildSenderAuth(t *testing.T) {
	res, err := resolver.New(resolver.Config{Server: "127.0.0.1:1", CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	has := func(c *filters.Chain) bool {
		for _, f := range c.Filters() {
			if f.Name() == "authres" {
				return true
			}
		}
		return false
	}
	cfg := Default()
	chain, err := BuildChain(cfg, &Deps{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	if !has(chain) {
		t.Error("default chain lacks the authres filter")
	}
	cfg.SenderAuth.Enabled = false
	chain, err = BuildChain(cfg, &Deps{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	if has(chain) {
		t.Error("sender_auth.enabled: false still builds the filter")
	}
}
