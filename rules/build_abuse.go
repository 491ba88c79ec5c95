package rules

import (
	"fmt"

	"mailguard/anvil"
	"mailguard/anvil/redisanvil"
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
	// The triplets outlive reloads, and with Redis other instances see
	// them: a retry through another MX passes.
	var s anvil.Store
	if r, err := SharedAnvil(cfg, d); err != nil {
		return nil, err
	} else if r != nil {
		s = r
	} else {
		m, err := d.Shared("anvil", func() (any, error) { return anvil.NewMemory(0), nil })
		if err != nil {
			return nil, err
		}
		s = m.(anvil.Store)
	}
	return []filters.Filter{verify.NewGreylist(verify.GreylistConfig{Store: s,
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

// SharedAnvil returns the store of rate counters, pregreet and greylisting
// memories and callout answers that gateway instances share: on Redis when
// `store` names it (one client per process, kept across reloads), nil
// when the store is embedded and each user keeps its own memory.
func SharedAnvil(cfg *Config, d *Deps) (*redisanvil.Store, error) {
	if cfg.Store == "" {
		return nil, nil
	}
	v, err := d.Shared("anvil:redis", func() (any, error) {
		return redisanvil.Open(redisanvil.Config{URL: cfg.Store, Log: d.Log})
	})
	if err != nil {
		return nil, err
	}
	return v.(*redisanvil.Store), nil
}
