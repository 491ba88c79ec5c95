package rules

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestAbuseLimits(t *testing.T) {
	runCases(t, []keyCase{
		{name: "defaults", yaml: "{}", check: func(c *Config) bool {
			a := c.Limits.AbuseLimits
			return a.GreetDelay == 2*time.Second && a.MaxErrors == 10 && a.GreetTTL == 24*time.Hour && a.MaxConnectionsPerNetwork == 50 &&
				a.MinDataRate == 500
		}},
		{name: "set", yaml: "limits: {greet_delay: 0s, max_errors: 3, soft_errors: 1, connection_rate: 5, min_data_rate: 2000}", check: func(c *Config) bool {
			a := c.ProxyAbuse()
			return a.GreetDelay == 0 && a.MaxErrors == 3 && a.SoftErrors == 1 && a.ConnectionRate == 5 && a.MinDataRate == 2000 &&
				slices.Contains(a.ExemptNetworks, netip.MustParsePrefix("127.0.0.0/8"))
		}},
		{name: "errors", yaml: "limits:\n  greet_delay: -1s\n  max_errors: 2\n  soft_errors: 3\n  min_data_rate: 0\n", want: []string{
			`2: limits.greet_delay: must be between 0s (off) and 1m, got -1s`,
			`4: limits.soft_errors: is 3, over limits.max_errors (2)`,
			`5: limits.min_data_rate: must be at least 1, got 0`,
		}},
	})
}

func TestGreylistAndRDNSConfig(t *testing.T) {
	runCases(t, []keyCase{
		{name: "greylist off by default", yaml: "{}", check: func(c *Config) bool {
			return !c.Greylist.Enabled && c.Greylist.Delay == 5*time.Minute && c.Greylist.Networks.IPv4 == 24 && !c.RDNS.Enabled
		}},
		{name: "greylist set", yaml: "greylist: {enabled: true, delay: 1m, only: {no_rdns: true, score_above: 3}}", check: func(c *Config) bool {
			return c.Greylist.Enabled && c.Greylist.Delay == time.Minute && c.Greylist.Only.NoRDNS && c.Greylist.Only.ScoreAbove == 3
		}},
		{name: "greylist only as a list", yaml: "greylist: {only: [no_rdns, score_above: 4.5]}", check: func(c *Config) bool {
			return c.Greylist.Only.NoRDNS && c.Greylist.Only.ScoreAbove == 4.5
		}},
		{name: "greylist only unknown condition", yaml: "greylist:\n  only: [sometimes]\n", want: []string{
			`2: greylist.only: unknown condition at line 2 (no_rdns or score_above: N)`,
		}},
		{name: "greylist window under delay", yaml: "greylist: {delay: 2h, window: 1h}", want: []string{
			`1: greylist.window: is 1h0m0s, not more than greylist.delay (2h0m0s)`,
		}},
	})
}
