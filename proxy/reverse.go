package proxy

import (
	"context"
	"net/netip"

	"mailguard/resolver"
)

// reverseName returns the client's forward-confirmed reverse name
// (Postfix's "name[ip]"; a name that does not confirm is "unknown"), or ""
// on any failure. The whole search takes at most two DNS timeouts, because
// the banner waits for it.
func (p *Proxy) reverseName(ctx context.Context, cfg *Config, ip netip.Addr) string {
	if cfg.Resolver == nil {
		return ""
	}
	return resolver.ConfirmedName(ctx, cfg.Resolver, ip, cfg.DNSTimeout)
}
