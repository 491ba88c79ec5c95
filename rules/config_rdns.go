package rules

import (
	"fmt"

	"mailguard/filters"
	"mailguard/rdns"
)

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

// buildRDNS builds the reverse DNS scores (rdns).
func buildRDNS(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if !cfg.RDNS.Enabled {
		return nil, nil
	}
	if d.Resolver == nil {
		return nil, fmt.Errorf("no resolver")
	}
	return []filters.Filter{rdns.New(rdns.Config{Resolver: d.Resolver, Timeout: cfg.DNS.Timeout,
		None: cfg.RDNS.None, Mismatch: cfg.RDNS.Mismatch})}, nil
}
