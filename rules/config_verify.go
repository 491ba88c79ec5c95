package rules

import (
	"math"
	"time"

	"mailguard/verify"
)

// VerifyConfig is the "verify" section: the tunables of sender and
// recipient verification beyond the SPEC's on/off keys (sender_verify,
// sender_callout, recipients.callout).
type VerifyConfig struct {
	// Scores are the points of the sender domain's scored DNS faults by
	// test name; 0 turns a test off.
	Scores map[string]float64 `yaml:"scores"`
	// Callout tunes the SMTP probes of recipients.callout and
	// sender_callout.
	Callout CalloutConfig `yaml:"callout"`
}

// CalloutConfig tunes address verification probes.
type CalloutConfig struct {
	// Timeout bounds connecting and each command of a probe.
	Timeout time.Duration `yaml:"timeout"`
	// Rate is the probes a second allowed per domain, Burst how many may
	// go at once; over the limit the client gets a 450.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// PositiveTTL and NegativeTTL: how long an accepted and a refused
	// address are remembered.
	PositiveTTL time.Duration `yaml:"positive_ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// SenderPort is the port sender callouts connect to on the sender
	// domain's MX hosts.
	SenderPort int `yaml:"sender_port"`
}

func init() {
	registerDefaults(func(c *Config) {
		c.Verify = VerifyConfig{
			Scores: maps(verify.DefaultSenderWeights),
			Callout: CalloutConfig{
				Timeout:     verify.DefaultCalloutTimeout,
				Rate:        verify.DefaultCalloutRate,
				Burst:       verify.DefaultCalloutBurst,
				PositiveTTL: verify.DefaultPositiveTTL,
				NegativeTTL: verify.DefaultNegativeTTL,
				SenderPort:  verify.DefaultCalloutPort,
			},
		}
	})
	registerValidator(validateVerify)
}

func maps(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func validateVerify(c *Config, v *validator) {
	v.testWeights("verify.scores", "a test of sender verification", c.Verify.Scores, verify.DefaultSenderWeights)
	co := c.Verify.Callout
	checkDuration(v, "verify.callout.timeout", co.Timeout, 5*time.Minute)
	if math.IsNaN(co.Rate) || math.IsInf(co.Rate, 0) || co.Rate < 0 {
		v.Errorf("verify.callout.rate", "must be probes a second per domain, 0 for no limit; got %v", co.Rate)
	}
	if co.Burst < 1 {
		v.Errorf("verify.callout.burst", "must be at least 1, got %d", co.Burst)
	}
	checkDuration(v, "verify.callout.positive_ttl", co.PositiveTTL, 0)
	checkDuration(v, "verify.callout.negative_ttl", co.NegativeTTL, 0)
	if co.SenderPort < 1 || co.SenderPort > 65535 {
		v.Errorf("verify.callout.sender_port", "must be a port 1-65535, got %d", co.SenderPort)
	}
	if c.Recipients.Callout && len(c.Domains) == 0 {
		v.Errorf("recipients.callout", "verifies recipients of the local domains, and domains is empty")
	}
	if c.Recipients.File != "" && len(c.Domains) == 0 {
		v.Errorf("recipients.file", "lists recipients of the local domains, and domains is empty")
	}
}
