package rules

import (
	"fmt"

	"mailguard/filters"
	"mailguard/verify"
)

// buildLists builds the block and allow lists (block, allow).
func buildLists(cfg *Config, d *Deps) ([]filters.Filter, error) {
	l, err := verify.NewLists(verify.ListsConfig{
		BlockSenders:  cfg.Block.Senders,
		BlockNetworks: cfg.Block.Networks,
		AllowSenders:  cfg.Allow.Senders,
		AllowNetworks: cfg.Allow.Networks,
	})
	if err != nil {
		return nil, err
	}
	return []filters.Filter{l}, nil
}

// buildRelay builds relay control (domains, relay_networks).
func buildRelay(cfg *Config, d *Deps) ([]filters.Filter, error) {
	r, err := verify.NewRelay(verify.RelayConfig{Domains: cfg.Domains, Networks: cfg.RelayNetworks})
	if err != nil {
		return nil, err
	}
	return []filters.Filter{r}, nil
}

// buildSender builds sender verification (sender_verify, sender_callout).
func buildSender(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if !cfg.SenderVerify && !cfg.SenderCallout {
		return nil, nil
	}
	if d.Resolver == nil {
		return nil, fmt.Errorf("no resolver")
	}
	sc := verify.SenderConfig{
		Resolver:    d.Resolver,
		Verify:      cfg.SenderVerify,
		Weights:     cfg.Verify.Scores,
		CalloutPort: cfg.Verify.Callout.SenderPort,
	}
	if cfg.SenderCallout {
		co, err := callout(cfg, d)
		if err != nil {
			return nil, err
		}
		sc.Callout = co
	}
	s, err := verify.NewSender(sc)
	if err != nil {
		return nil, err
	}
	return []filters.Filter{s}, nil
}

// buildRecipients builds recipient verification (recipients).
func buildRecipients(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if cfg.Recipients.File == "" && !cfg.Recipients.Callout {
		return nil, nil
	}
	rc := verify.RecipientsConfig{
		Domains: cfg.Domains,
		File:    cfg.Recipients.File,
		Backend: cfg.Backend,
		Log:     d.Log,
	}
	if cfg.Recipients.Callout {
		co, err := callout(cfg, d)
		if err != nil {
			return nil, err
		}
		rc.Callout = co
	}
	r, err := verify.NewRecipients(rc)
	if err != nil {
		return nil, err
	}
	return []filters.Filter{r}, nil
}

// callout returns the process's prober for these settings. It is shared
// through Deps so its caches survive a reload that leaves them unchanged
// (and their cleanup goroutines are not started again).
func callout(cfg *Config, d *Deps) (*verify.Callout, error) {
	cc := verify.CalloutConfig{
		Hostname:    cfg.Hostname,
		Timeout:     cfg.Verify.Callout.Timeout,
		Rate:        cfg.Verify.Callout.Rate,
		Burst:       cfg.Verify.Callout.Burst,
		PositiveTTL: cfg.Verify.Callout.PositiveTTL,
		NegativeTTL: cfg.Verify.Callout.NegativeTTL,
	}
	// With Redis, the answers are shared: an address another instance
	// just verified is not probed again.
	if r, err := SharedAnvil(cfg, d); err != nil {
		return nil, err
	} else if r != nil {
		cc.Cache = r
	}
	v, err := d.Shared(fmt.Sprintf("verify:callout:%+v", cc), func() (any, error) { return verify.NewCallout(cc), nil })
	if err != nil {
		return nil, err
	}
	return v.(*verify.Callout), nil
}
