package rules

import "mailguard/rdns"

// RDNSConfig is the "rdns" section: the FCrDNS scores (package rdns).
type RDNSConfig struct {
	// Enabled turns the scores on (default off).
	Enabled bool `yaml:"enabled"`
	// None and Mismatch are the points of RDNS_NONE (no PTR record) and
	// RDNS_MISMATCH (PTR names that do not resolve back to the address).
	None     float64 `yaml:"none"`
	Mismatch float64 `yaml:"mismatch"`
}

func init() {
	registerDefaults(func(c *Config) { c.RDNS = RDNSConfig{None: rdns.DefaultNone, Mismatch: rdns.DefaultMismatch} })
}
