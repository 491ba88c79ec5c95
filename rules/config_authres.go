package rules

import (
	"time"

	"mailguard/authres"
)

// SenderAuthConfig is the "sender_auth" section: SPF, DKIM and DMARC on
// mail from clients outside relay_networks, reported in an
// Authentication-Results header and scored.
type SenderAuthConfig struct {
	// Enabled turns the checks (and the header) on.
	Enabled bool `yaml:"enabled"`
	// DMARCReject refuses (550 5.7.1) a message that fails DMARC when its
	// domain publishes p=reject for all its mail; off, the failure scores.
	DMARCReject bool `yaml:"dmarc_reject"`
	// MaxBytes bounds how much of a signed message DKIM reads; a larger
	// one is reported dkim=policy, not verified. 0: max_message_bytes.
	MaxBytes int64 `yaml:"max_bytes"`
	// SPFTimeout bounds the whole SPF evaluation (its DNS queries each
	// have dns.timeout).
	SPFTimeout time.Duration `yaml:"spf_timeout"`
	// Scores are the points of each test by name; 0 turns a test's score
	// off (the result still goes in the header and the log).
	Scores map[string]float64 `yaml:"scores"`
}

func init() {
	registerDefaults(func(c *Config) {
		c.SenderAuth = SenderAuthConfig{
			Enabled:    true,
			SPFTimeout: authres.DefaultTimeout,
			Scores:     authres.DefaultWeights(),
		}
	})
	registerValidator(validateSenderAuth)
}

func validateSenderAuth(c *Config, v *validator) {
	sa := c.SenderAuth
	if sa.MaxBytes < 0 {
		v.Errorf("sender_auth.max_bytes", "must be 0 (max_message_bytes) or a number of bytes, got %d", sa.MaxBytes)
	}
	if sa.SPFTimeout <= 0 {
		v.Errorf("sender_auth.spf_timeout", "must be a duration over 0 (such as 20s), got %v", sa.SPFTimeout)
	}
	v.testWeights("sender_auth.scores", "a test of sender_auth", sa.Scores, authres.DefaultWeights())
}

// senderAuthConfig turns the section into the filter's configuration.
func senderAuthConfig(c *Config, d *Deps) authres.Config {
	maxBytes := c.SenderAuth.MaxBytes
	if maxBytes == 0 {
		maxBytes = c.MaxMessageBytes
	}
	return authres.Config{
		Resolver:    d.Resolver,
		Hostname:    c.Hostname,
		Weights:     c.SenderAuth.Scores,
		RejectDMARC: c.SenderAuth.DMARCReject,
		MaxBytes:    maxBytes,
		Timeout:     c.SenderAuth.SPFTimeout,
	}
}
