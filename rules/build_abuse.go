package rules

import (
	"fmt"

	"mailguard/anvil"
	"mailguard/filters"
	"mailguard/rdns"
	"mailguard/verify"
)

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

// buildGreylist builds greylisting (greylist).
func buildGreylist(cfg *Config, d *Deps) ([]filters.Filter, error) {
	g := cfg.Greylist
	if !g.Enabled {
		return nil, nil
	}
	// The triplets outlive reloads.
	s, err := d.Shared("anvil", func() (any, error) { return anvil.NewMemory(0), nil })
	if err != nil {
		return nil, err
	}
	return []filters.Filter{verify.NewGreylist(verify.GreylistConfig{Store: s.(anvil.Store),
		Delay: g.Delay, Window: g.Window, Memory: g.Memory, IPv4Bits: g.Networks.IPv4, IPv6Bits: g.Networks.IPv6,
		OnlyNoRDNS: g.Only.NoRDNS, OnlyScoreAbove: g.Only.ScoreAbove})}, nil
}

// buildSenderLogin builds the Sender: check of authenticated clients.
func buildSenderLogin(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if cfg.Auth.UsersFile == "" {
		return nil, nil
	}
	senders := verify.Senders{}
	if f := cfg.Auth.SendersFile; f != "" {
		data, err := readListFile(f)
		if err != nil {
			return nil, err
		}
		if senders, err = verify.ParseSenders(data); err != nil {
			return nil, err
		}
	}
	return []filters.Filter{&verify.SenderID{Senders: senders, Reject: cfg.Auth.RejectSenderMismatch}}, nil
}
