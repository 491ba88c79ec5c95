package resolver

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// fromMsg reads the answer to (qname, qtype) out of m: the CNAME chain
// starting at qname, the records of qtype at its end, and how long the
// whole may be cached. A negative answer may be cached for the SOA's
// minimum, bounded by the SOA record's own TTL (RFC 2308 section 5); without
// an SOA its TTL is 0, which the cache raises to its floor.
func fromMsg(m *dns.Msg, qname string, qtype uint16) Result {
	res := Result{
		NXDomain:      m.Rcode == dns.RcodeNameError,
		Authoritative: m.Authoritative,
		Authority:     m.Ns,
	}
	ttl := uint32(0)
	first := true
	use := func(t uint32) {
		if first || t < ttl {
			ttl, first = t, false
		}
	}
	cur := qname
	if qtype != dns.TypeCNAME {
		for range maxCNAMEs {
			var next *dns.CNAME
			for _, rr := range m.Answer {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
					next = c
					break
				}
			}
			if next == nil {
				break
			}
			use(next.Hdr.Ttl)
			cur = dns.Fqdn(next.Target)
			res.CNAMEs = append(res.CNAMEs, cur)
		}
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype == qtype && strings.EqualFold(h.Name, cur) {
			res.Records = append(res.Records, rr)
			use(h.Ttl)
		}
	}
	if len(res.Records) == 0 {
		// A negative answer (NXDOMAIN or NODATA) at the end of the chain.
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				use(min(soa.Hdr.Ttl, soa.Minttl))
				break
			}
		}
		if first {
			use(0)
		}
	} else {
		// A listed name may come with the alias that led to it: NXDOMAIN
		// only describes the end of a chain that has no records.
		res.NXDomain = false
	}
	res.TTL = time.Duration(ttl) * time.Second
	return res
}
