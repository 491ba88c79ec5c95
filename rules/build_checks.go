package rules

import "mailguard/filters"

func init() {
	register(60, "checks", func(cfg *Config, d *Deps) ([]filters.Filter, error) {
		return []filters.Filter{filters.NewMessageChecks(checksFilterConfig(cfg))}, nil
	})
}
