package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"mailguard/internal/testutil/dnstest"
)

func TestDNSCheckCommand(t *testing.T) {
	const dir = "../../dnscheck/testdata/"
	ns1 := dnstest.StartFile(t, dir+"common.zone", dir+"ns1-split.zone")
	ns2 := dnstest.StartFile(t, dir+"common.zone", dir+"ns2-split.zone")
	base := []string{"-resolver", ns1.Addr(), "-timeout", "3s", "-ns", "ns1.dns.test=" + ns1.Addr(), "-ns", "ns2.dns.test=" + ns2.Addr()}

	tests := []struct {
		args []string
		code int
		out  string
	}{
		{append([]string{"good.test"}, base...), exitOK, "no problems found"},
		{append(append([]string{}, base...), "alias.bad.test"), exitFailed, "is an alias (CNAME) of mx1.good.test."},
		{append(append([]string{}, base...), "split.test"), exitFailed, "disagree on the MX of split.test."},
		{append(append([]string{"-json"}, base...), "nomx.bad.test"), exitFailed, `"code": "no-mx"`},
		{[]string{}, exitUsage, ""},
		{append(append([]string{}, base...), "a.test", "b.test"), exitUsage, ""},
		{[]string{"-bogus", "good.test"}, exitUsage, ""},
		{[]string{"-resolver", ns1.Addr(), "user@good.test"}, exitUsage, ""},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"dnscheck"}, tt.args...), &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.out) {
			t.Errorf("dnscheck %v: exit %d, want %d; output lacks %q?\n%s%s", tt.args, code, tt.code, tt.out, stdout.String(), stderr.String())
		}
	}

	var stdout bytes.Buffer
	run(append([]string{"dnscheck", "-json", "good.test"}, base...), &stdout, &bytes.Buffer{})
	var rep struct {
		Domain string `json:"domain"`
		MX     []struct {
			Preference int    `json:"preference"`
			Host       string `json:"host"`
		} `json:"mx"`
		Problems []any `json:"problems"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Domain != "good.test." || len(rep.MX) != 2 || rep.MX[0].Preference != 10 || len(rep.Problems) != 0 {
		t.Errorf("-json: %v %+v\n%s", err, rep, stdout.String())
	}

	var help bytes.Buffer
	run([]string{"dnscheck", "-help"}, &bytes.Buffer{}, &help)
	if strings.Contains(help.String(), "-ns") {
		t.Errorf("the test-only -ns flag shows in the help:\n%s", help.String())
	}
}
