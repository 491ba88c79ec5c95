package rules

import (
	"fmt"
	"testing"
	"time"
)

func TestBlank(t *testing.T) {
	for in, want := range map[string]bool{
		"":                               true,
		"\n\n  \n":                       true,
		"# hostname: mx.example.org\n":   true,
		"# a\n\n# b\n":                   true,
		"---\n":                          true,
		"--- # nothing\n":                true,
		"~\n":                            true,
		"null\n":                         true,
		"{}\n":                           true,
		"hostname: mx.example.org\n":     false,
		"# x\nbackend: 127.0.0.1:25\n":   false,
		"backend:\n":                     false, // a key, set to null: Parse judges it
		"[1, 2\n":                        false, // a syntax error: Parse reports it
		"domains: []\n":                  false,
		"hostname: mx.example.org":       false,
		"relay_networks: [10.0.0.0/8]\n": false,
	} {
		if got := Blank([]byte(in)); got != want {
			t.Errorf("Blank(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDiff(t *testing.T) {
	old := Default()
	old.Domains = []string{"example.org", "example.net"}
	old.DNSBL = []ListZone{{Zone: "zen.example", Action: "reject"}}
	old.Store = "redis://:secret@127.0.0.1:6379/0"
	cur := Default()
	cur.Domains = []string{"example.org"}
	cur.Backend = "192.0.2.1:25"
	cur.DNS.Timeout = 3 * time.Second
	cur.DNSBL = []ListZone{{Zone: "zen.example", Action: "score", Weight: 2}}
	cur.Checks.Scores["MISSING_DATE"] = 0.5
	delete(cur.Checks.Scores, "GTUBE")
	cur.RelayNetworks = append(cur.RelayNetworks, "10.0.0.0/8")
	cur.Store = "redis://:other@127.0.0.1:6379/0"
	got := map[string]Change{}
	for _, c := range Diff(old, cur) {
		got[c.Key] = c
	}
	want := []Change{
		{Key: "backend", Kind: "changed", Old: Default().Backend, New: "192.0.2.1:25"},
		{Key: "domains[1]", Kind: "removed", Old: "example.net"},
		{Key: "dns.timeout", Kind: "changed", Old: Default().DNS.Timeout.String(), New: "3s"},
		{Key: "dnsbl[0].action", Kind: "changed", Old: "reject", New: "score"},
		{Key: "dnsbl[0].weight", Kind: "changed", Old: "0", New: "2"},
		{Key: "checks.scores.MISSING_DATE", Kind: "changed", Old: fmt.Sprint(Default().Checks.Scores["MISSING_DATE"]), New: "0.5"},
		{Key: "checks.scores.GTUBE", Kind: "removed", Old: "1000"},
		{Key: fmt.Sprintf("relay_networks[%d]", len(Default().RelayNetworks)), Kind: "added", New: "10.0.0.0/8"},
		{Key: "store", Kind: "changed", Old: "redis://:xxxxx@127.0.0.1:6379/0", New: "redis://:xxxxx@127.0.0.1:6379/0"},
	}
	for _, w := range want {
		if got[w.Key] != w {
			t.Errorf("%s: got %+v, want %+v", w.Key, got[w.Key], w)
		}
		delete(got, w.Key)
	}
	for k, c := range got {
		t.Errorf("unexpected change %s: %+v", k, c)
	}
	if d := Diff(Default(), Default()); len(d) != 0 {
		t.Errorf("defaults differ from themselves: %+v", d)
	}
}
