package proxy

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// maxPTR bounds how many reverse names are tried for forward confirmation.
const maxPTR = 4

// reverseName returns the client's forward-confirmed reverse name: a PTR
// name of the address whose A or AAAA records include the address again
// (Postfix's "name[ip]"; a name that does not confirm is "unknown"). Any
// failure, temporary or not, gives "". The whole search takes at most two
// DNS timeouts, because the banner waits for it.
func (p *Proxy) reverseName(ctx context.Context, cfg *Config, ip netip.Addr) string {
	r := cfg.Resolver
	if r == nil || !ip.IsValid() {
		return ""
	}
	ctx, cancelAll := context.WithTimeout(ctx, 2*cfg.DNSTimeout)
	defer cancelAll()
	arpa, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return ""
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.DNSTimeout)
	res, err := r.Lookup(lctx, arpa, dns.TypePTR)
	cancel()
	if err != nil {
		return ""
	}
	qtype := dns.TypeA
	if ip.Is6() {
		qtype = dns.TypeAAAA
	}
	tried := 0
	for _, rr := range res.Records {
		ptr, ok := rr.(*dns.PTR)
		if !ok {
			continue
		}
		if tried++; tried > maxPTR {
			break
		}
		name := strings.TrimSuffix(ptr.Ptr, ".")
		lctx, cancel := context.WithTimeout(ctx, cfg.DNSTimeout)
		fwd, err := r.Lookup(lctx, name, qtype)
		cancel()
		if err != nil {
			continue
		}
		for _, a := range fwd.Records {
			var got netip.Addr
			switch a := a.(type) {
			case *dns.A:
				got, _ = netip.AddrFromSlice(a.A.To4())
			case *dns.AAAA:
				got, _ = netip.AddrFromSlice(a.AAAA)
			}
			if got.Unmap() == ip {
				return strings.ToLower(name)
			}
		}
	}
	return ""
}
