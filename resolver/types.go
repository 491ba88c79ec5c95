package resolver

import (
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Query types, so callers need not import the DNS library.
const (
	TypeA     = dns.TypeA
	TypeAAAA  = dns.TypeAAAA
	TypeCNAME = dns.TypeCNAME
	TypeMX    = dns.TypeMX
	TypeNS    = dns.TypeNS
	TypePTR   = dns.TypePTR
	TypeSOA   = dns.TypeSOA
	TypeTXT   = dns.TypeTXT
)

// Data returns the data of each record in master-file form without owner,
// TTL, class and type ("10 mx1.example.org.", "192.0.2.1"), sorted, so
// answers from different servers can be compared and shown.
func (r Result) Data() []string {
	out := make([]string, 0, len(r.Records))
	for _, rr := range r.Records {
		out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	sort.Strings(out)
	return out
}

// AuthoritySOA returns the owner and data of the SOA in the authority
// section (the zone a negative answer came from), or "" when there is none.
func (r Result) AuthoritySOA() (zone, data string) {
	for _, rr := range r.Authority {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Hdr.Name, strings.TrimPrefix(soa.String(), soa.Hdr.String())
		}
	}
	return "", ""
}
