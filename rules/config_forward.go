package rules

import "mailguard/relay"

// DefaultBackendForward is backend_forward's default: XFORWARD, sent only
// when the backend offers it.
const DefaultBackendForward = string(relay.ForwardXForward)

func init() {
	registerDefaults(func(c *Config) { c.BackendForward = DefaultBackendForward })
	registerValidator(validateBackendForward)
}

// validateBackendForward checks backend_forward: how the backend learns
// who the client was (off, xforward or xclient).
func validateBackendForward(c *Config, v *validator) {
	switch relay.ForwardMode(c.BackendForward) {
	case relay.ForwardOff, relay.ForwardXForward, relay.ForwardXClient:
	default:
		v.Errorf("backend_forward", "must be off, xforward or xclient, got %q", c.BackendForward)
	}
}
