package rules

import "mailguard/filters"

// buildChecks builds the message checks (checks).
func buildChecks(cfg *Config, d *Deps) ([]filters.Filter, error) {
	return []filters.Filter{filters.NewMessageChecks(checksFilterConfig(cfg))}, nil
}
