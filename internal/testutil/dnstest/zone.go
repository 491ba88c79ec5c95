package dnstest

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// zoneData is parsed zone text: records by owner name, the names that exist
// (owners and the empty non-terminals above them) and the SOAs.
type zoneData struct {
	rrs   map[string][]dns.RR
	names map[string]bool
	soas  map[string]*dns.SOA
}

func parseZone(text string) (*zoneData, error) {
	z := &zoneData{rrs: map[string][]dns.RR{}, names: map[string]bool{}, soas: map[string]*dns.SOA{}}
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.add(rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnstest: parse zone: %w", err)
	}
	return z, nil
}

func (z *zoneData) add(rr dns.RR) {
	name := canonical(rr.Header().Name)
	z.rrs[name] = append(z.rrs[name], rr)
	if soa, ok := rr.(*dns.SOA); ok {
		z.soas[name] = soa
	}
	// The owner and every name between it and the root exist (RFC 4592
	// empty non-terminals answer NODATA, not NXDOMAIN).
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		z.names[name[off:]] = true
	}
}

func (z *zoneData) clone() *zoneData {
	c := &zoneData{rrs: map[string][]dns.RR{}, names: map[string]bool{}, soas: map[string]*dns.SOA{}}
	for k, v := range z.rrs {
		c.rrs[k] = append([]dns.RR(nil), v...)
	}
	for k, v := range z.names {
		c.names[k] = v
	}
	for k, v := range z.soas {
		c.soas[k] = v
	}
	return c
}

// soaFor returns the SOA of the closest enclosing zone, or nil.
func (z *zoneData) soaFor(name string) *dns.SOA {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if soa, ok := z.soas[name[off:]]; ok {
			return soa
		}
	}
	return z.soas["."]
}

// answer fills m for question q, following CNAMEs within the zone.
func (z *zoneData) answer(m *dns.Msg, q dns.Question) {
	name := canonical(q.Name)
	seen := map[string]bool{}
	for range 16 {
		if seen[name] {
			m.Rcode = dns.RcodeServerFailure // a CNAME loop
			m.Answer = nil
			return
		}
		seen[name] = true
		var cname *dns.CNAME
		found := false
		for _, rr := range z.rrs[name] {
			h := rr.Header()
			if h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, withName(rr, name, q, len(seen) == 1))
				found = true
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if found {
			return
		}
		if cname != nil {
			m.Answer = append(m.Answer, withName(cname, name, q, len(seen) == 1))
			name = canonical(cname.Target)
			if _, local := z.rrs[name]; !local && !z.names[name] && z.soaFor(name) == nil {
				return // the target is outside the zone text: the client follows it
			}
			continue
		}
		if !z.names[name] {
			m.Rcode = dns.RcodeNameError
		}
		if soa := z.soaFor(name); soa != nil {
			m.Ns = append(m.Ns, dns.Copy(soa))
		}
		return
	}
	m.Rcode = dns.RcodeServerFailure
	m.Answer = nil
}

// withName copies rr; the first owner keeps the spelling of the question, as
// servers echo it.
func withName(rr dns.RR, name string, q dns.Question, first bool) dns.RR {
	c := dns.Copy(rr)
	if first {
		c.Header().Name = q.Name
	} else {
		c.Header().Name = name
	}
	return c
}
