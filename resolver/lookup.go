package resolver

import (
	"context"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// The helpers below answer the questions mail checks ask. Each returns an
// empty list and a nil error when the name does not exist or has no record
// of the kind (NXDOMAIN or NODATA); errors wrap ErrTemporary when a retry may
// succeed.

// LookupMX returns the MX records of domain sorted by preference, and the
// Result they came from (NXDomain tells a missing domain from one without
// MX). A null MX (RFC 7505) is returned as is: one record, preference 0,
// host ".".
func LookupMX(ctx context.Context, r Resolver, domain string) ([]*dns.MX, Result, error) {
	res, err := r.Lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, res, err
	}
	mxs := make([]*dns.MX, 0, len(res.Records))
	for _, rr := range res.Records {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, mx)
		}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	return mxs, res, nil
}

// LookupIP returns the IPv4 and IPv6 addresses of host (LookupHost's
// Addrs), asking for A and AAAA in parallel. When one of the two fails
// temporarily and the other has addresses, the addresses are returned; when
// neither has any, the failure.
func LookupIP(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	h, err := LookupHost(ctx, r, host)
	return h.Addrs, err
}

func lookupAddrs(ctx context.Context, r Resolver, host string, qtype uint16) ([]netip.Addr, error) {
	res, err := r.Lookup(ctx, host, qtype)
	if err != nil {
		return nil, err
	}
	return addrsOf(res), nil
}

// LookupTXT returns the TXT records of name, the strings of each record
// joined (RFC 7208 section 3.3), in the order received.
func LookupTXT(ctx context.Context, r Resolver, name string) ([]string, error) {
	res, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var txts []string
	for _, rr := range res.Records {
		if t, ok := rr.(*dns.TXT); ok {
			var b strings.Builder
			for _, part := range t.Txt {
				b.WriteString(unescape(part))
			}
			txts = append(txts, b.String())
		}
	}
	return txts, nil
}

// LookupAddr returns the names (fully qualified, with the trailing dot, as
// net.LookupAddr does) that the PTR records of ip point to.
func LookupAddr(ctx context.Context, r Resolver, ip netip.Addr) ([]string, error) {
	res, err := r.Lookup(ctx, ReverseName(ip, ""), dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, rr := range res.Records {
		if p, ok := rr.(*dns.PTR); ok {
			names = append(names, dns.Fqdn(p.Ptr))
		}
	}
	return names, nil
}

// ReverseName returns the name under which ip is looked up in zone: the
// octets of an IPv4 address reversed (RFC 1035 section 3.5), the nibbles of
// an IPv6 address reversed (RFC 3596 section 2.5), then the zone. An empty
// zone means in-addr.arpa or ip6.arpa. IPv4-mapped IPv6 addresses are
// looked up as IPv4.
func ReverseName(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		if zone == "" {
			zone = "in-addr.arpa."
		}
		a := ip.As4()
		b.Grow(16 + len(zone))
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			b.WriteByte('.')
		}
	} else {
		if zone == "" {
			zone = "ip6.arpa."
		}
		const hex = "0123456789abcdef"
		a := ip.As16()
		b.Grow(64 + len(zone))
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(strings.TrimPrefix(zone, "."))
	return dns.Fqdn(b.String())
}

// LookupIP4 returns the IPv4 addresses (A records) of name only, as DNS
// lists answer.
func LookupIP4(ctx context.Context, r Resolver, name string) ([]netip.Addr, error) {
	return lookupAddrs(ctx, r, name, dns.TypeA)
}

// unescape turns a character-string from miekg/dns's presentation form
// (\DDD for bytes outside printable ASCII, \X for quotes and backslashes)
// back into the bytes that were on the wire.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
