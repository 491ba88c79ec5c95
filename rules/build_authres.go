package rules

import (
	"fmt"

	"mailguard/authres"
	"mailguard/filters"
)

// buildAuthres builds SPF, DKIM and DMARC (sender_auth).
func buildAuthres(cfg *Config, d *Deps) ([]filters.Filter, error) {
	if !cfg.SenderAuth.Enabled {
		return nil, nil
	}
	if d.Resolver == nil {
		return nil, fmt.Errorf("sender_auth: no resolver")
	}
	c, err := authres.New(senderAuthConfig(cfg, d))
	if err != nil {
		return nil, err
	}
	return []filters.Filter{c}, nil
}
