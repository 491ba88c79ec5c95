package verify

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"mailguard/filters"
)

// RelayConfig configures relay control.
type RelayConfig struct {
	// Domains are the local domains: mail for them is accepted from anyone.
	// Subdomains are not included unless listed.
	Domains []string
	// Networks are the clients that may send to any domain (CIDRs or
	// single addresses).
	Networks []string
}

// Relay is relay control, Postfix's permit_mynetworks,
// permit_sasl_authenticated and reject_unauth_destination: a recipient
// outside the local domains is refused unless the client is in the relay
// networks or authenticated.
//
// The relay tricks (a source route, "%" or "!" or a quoted "@" in the local
// part, a domain literal) are refused for every client, relay clients
// included: the backend may honour them and send the message somewhere
// nobody chose, and no legitimate mail needs them today.
type Relay struct {
	domains  map[string]bool
	networks []netip.Prefix
}

// NewRelay builds relay control.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	nets, err := parseNetworks(cfg.Networks)
	if err != nil {
		return nil, fmt.Errorf("relay_networks: %w", err)
	}
	return &Relay{domains: domainSet(cfg.Domains), networks: nets}, nil
}

// Name implements filters.Filter.
func (r *Relay) Name() string { return "relay" }

// CheckConnect marks clients of the relay networks.
func (r *Relay) CheckConnect(_ context.Context, c *filters.ClientConn) filters.Verdict {
	if inNetworks(r.networks, c.ClientIP) {
		c.SetRelayClient(true)
	}
	return filters.Pass()
}

// CheckRcpt refuses relay attempts.
func (r *Relay) CheckRcpt(_ context.Context, t *filters.Transaction, rcpt string) filters.Verdict {
	a := parseAddress(rcpt)
	deny := func(why string) filters.Verdict {
		return filters.Refuse(filters.ReplyRelayDenied.About(a.Display), why)
	}
	switch {
	case a.Trick != "":
		return deny("relay trick: " + a.Trick)
	case t.Conn.RelayByMTA:
		return filters.Pass()
	case a.Domain == "":
		// RFC 5321 section 4.5.1: "postmaster" without a domain must
		// be accepted; it is the backend's own postmaster.
		if strings.EqualFold(a.Local, "postmaster") {
			return filters.Pass()
		}
		return deny("recipient without a domain")
	case r.domains[a.Domain]:
		return filters.Pass()
	case t.Conn.MayRelay():
		return filters.Pass()
	}
	return deny("relay to " + a.Domain + " from an unauthorized client")
}

func domainSet(ds []string) map[string]bool {
	m := make(map[string]bool, len(ds))
	for _, d := range ds {
		if d = normalizeDomain(d); d != "" {
			m[d] = true
		}
	}
	return m
}

// parseNetworks reads CIDRs; a bare address is a single host.
func parseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			// Client addresses are unmapped before matching, so an
			// IPv4-mapped network must be too.
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func inNetworks(nets []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
