package rules

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"mailguard/verify"
)

// GreylistConfig is the "greylist" section (RFC 6647; off by default).
type GreylistConfig struct {
	Enabled bool `yaml:"enabled"`
	// Delay before a retry passes, Window in which it must come, Memory
	// of a triplet that passed.
	Delay  time.Duration `yaml:"delay"`
	Window time.Duration `yaml:"window"`
	Memory time.Duration `yaml:"memory"`
	// Networks are the client network's prefix lengths in the triplet.
	Networks GreylistNetworks `yaml:"networks"`
	// Only narrows greylisting to some clients; empty is every client.
	// Written as a list, [no_rdns, score_above: N], or a map.
	Only GreylistOnly `yaml:"only"`
}

// GreylistNetworks are prefix lengths.
type GreylistNetworks struct {
	IPv4 int `yaml:"ipv4"`
	IPv6 int `yaml:"ipv6"`
}

// GreylistOnly: greylist only clients without a forward-confirmed reverse
// name (no_rdns) or transactions that scored above score_above; both set,
// either.
type GreylistOnly struct {
	NoRDNS     bool    `yaml:"no_rdns"`
	ScoreAbove float64 `yaml:"score_above"`
}

func init() {
	registerDefaults(func(c *Config) {
		c.Greylist = GreylistConfig{Delay: verify.DefaultGreylistDelay, Window: verify.DefaultGreylistWindow,
			Memory: verify.DefaultGreylistMemory, Networks: GreylistNetworks{IPv4: 24, IPv6: 64}}
	})
	registerValidator(validateGreylist)
}

func validateGreylist(c *Config, v *validator) {
	g := &c.Greylist
	checkDuration(v, "greylist.delay", g.Delay, 0)
	checkDuration(v, "greylist.window", g.Window, 0)
	checkDuration(v, "greylist.memory", g.Memory, 0)
	if g.Delay > 0 && g.Window > 0 && g.Delay >= g.Window {
		v.Errorf("greylist.window", "is %s, not more than greylist.delay (%s)", g.Window, g.Delay)
	}
	if g.Networks.IPv4 < 8 || g.Networks.IPv4 > 32 {
		v.Errorf("greylist.networks.ipv4", "must be between 8 and 32, got %d", g.Networks.IPv4)
	}
	if g.Networks.IPv6 < 16 || g.Networks.IPv6 > 128 {
		v.Errorf("greylist.networks.ipv6", "must be between 16 and 128, got %d", g.Networks.IPv6)
	}
}

// UnmarshalYAML reads greylist.only as a list, the and postgrey's
// way of naming conditions ("[no_rdns, score_above: 5]"), or as a map
// ("{no_rdns: true, score_above: 5}").
func (o *GreylistOnly) UnmarshalYAML(n *yaml.Node) error {
	type plain GreylistOnly
	if n.Kind == yaml.MappingNode {
		return n.Decode((*plain)(o))
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("want a list such as [no_rdns, score_above: 5]")
	}
	for _, item := range n.Content {
		switch {
		case item.Kind == yaml.ScalarNode && item.Value == "no_rdns":
			o.NoRDNS = true
		case item.Kind == yaml.MappingNode && len(item.Content) == 2 && item.Content[0].Value == "score_above":
			if err := item.Content[1].Decode(&o.ScoreAbove); err != nil || o.ScoreAbove <= 0 {
				return fmt.Errorf("score_above wants a number above 0, got %q", item.Content[1].Value)
			}
		default:
			return fmt.Errorf("unknown condition at line %d (no_rdns or score_above: N)", item.Line)
		}
	}
	return nil
}
