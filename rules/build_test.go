package rules

import (
	"slices"
	"testing"

	"mailguard/resolver"
)

// chainOrder is the filter chain's order, pinned: moving a filter changes
// which verdict wins a tie, which reply a client hears first and which
// lookups a refused client costs. Change it here and in builders together,
// knowing why.
var chainOrder = []string{
	"lists", "relay", "dnsbl", "rdns", "rhsbl", "sender", "recipients",
	"greylist", "sender_login", "checks", "antivirus", "attachments", "uribl", "authres", "classifier",
}

func TestChainOrder(t *testing.T) {
	var names []string
	for _, b := range builders {
		names = append(names, b.name)
	}
	if !slices.Equal(names, chainOrder) {
		t.Fatalf("builders are %v, want %v", names, chainOrder)
	}

	// With every area on, the chain holds one filter per area, in that
	// order.
	res, err := resolver.New(resolver.Config{Server: "127.0.0.1:1", CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("test.yaml", []byte(`
hostname: mx.example.org
domains: [example.org]
sender_verify: true
recipients: {callout: true}
dnsbl: [{zone: zen.example}]
rhsbl: [{zone: dbl.example}]
uribl: [{zone: multi.example}]
antivirus: {clamd: "127.0.0.1:3310"}
rdns: {enabled: true}
greylist: {enabled: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	d := &Deps{Resolver: res}
	defer d.Close()
	chain, err := BuildChain(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range chain.Filters() {
		got = append(got, f.Name())
	}
	// sender_login needs auth.users_file, hence TLS files: not here.
	want := slices.DeleteFunc(slices.Clone(chainOrder), func(s string) bool { return s == "sender_login" })
	if !slices.Equal(got, want) {
		t.Errorf("chain is %v, want %v", got, want)
	}
}
