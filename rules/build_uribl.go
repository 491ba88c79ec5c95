package rules

import (
	"mailguard/filters"
	"mailguard/uribl"
)

// buildURIBL builds the body's link lists (uribl).
func buildURIBL(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if len(cfg.URIBL) == 0 {
		return nil, nil
	}
	zones := make([]ListZone, len(cfg.URIBL))
	for i := range cfg.URIBL {
		zones[i] = cfg.URIBL[i].ListZone
	}
	c, err := rblConfig(cfg, d, "uribl", zones)
	if err != nil {
		return nil, err
	}
	lists := make([]uribl.List, len(c.Lists))
	for i := range c.Lists {
		lists[i] = uribl.List{List: c.Lists[i], Hosts: cfg.URIBL[i].Hosts}
	}
	return []filters.Filter{uribl.New(uribl.Config{
		Lists:      lists,
		Resolver:   d.Resolver,
		MaxLookups: cfg.URIBLMaxLookups,
		Timeout:    cfg.DNS.Timeout,
		Log:        d.Log,
	})}, nil
}
