package rules

import (
	"fmt"

	"mailguard/filters"
	"mailguard/rbl"
)

// buildDNSBL builds the client's DNS lists (dnsbl).
func buildDNSBL(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if len(cfg.DNSBL) == 0 {
		return nil, nil
	}
	c, err := rblConfig(cfg, d, "dnsbl", cfg.DNSBL)
	if err != nil {
		return nil, err
	}
	return []filters.Filter{rbl.NewDNSBL(c)}, nil
}

// buildRHSBL builds the domain DNS lists (rhsbl).
func buildRHSBL(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if len(cfg.RHSBL) == 0 {
		return nil, nil
	}
	c, err := rblConfig(cfg, d, "rhsbl", cfg.RHSBL)
	if err != nil {
		return nil, err
	}
	return []filters.Filter{rbl.NewRHSBL(c)}, nil
}

// rblConfig turns the zones of a dnsbl or rhsbl section into the lists.
func rblConfig(cfg *Config, d *Deps, key string, zones []ListZone) (rbl.Config, error) {
	if d.Resolver == nil {
		return rbl.Config{}, fmt.Errorf("%s: no resolver", key)
	}
	c := rbl.Config{Resolver: d.Resolver, Timeout: cfg.DNS.Timeout, Log: d.Log}
	for i, z := range zones {
		codes, err := z.ParseCodes()
		if err != nil {
			return rbl.Config{}, fmt.Errorf("%s[%d].codes: %w", key, i, err)
		}
		mask, _, err := z.ParseMask()
		if err != nil {
			return rbl.Config{}, fmt.Errorf("%s[%d].mask: %w", key, i, err)
		}
		c.Lists = append(c.Lists, rbl.List{
			Zone:   z.Zone,
			Reject: z.Action != "score",
			Weight: z.Weight,
			Codes:  codes,
			Mask:   mask,
		})
	}
	return c, nil
}
