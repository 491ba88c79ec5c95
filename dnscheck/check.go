package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailguard/resolver"
)

// Config configures Check.
type Config struct {
	// Resolver is the recursive resolver for the domain's records.
	Resolver resolver.Resolver
	// Timeout bounds each question put directly to a name server
	// (default 2s).
	Timeout time.Duration
	// NSAddrs returns the addresses (host:port) at which to ask the name
	// server host directly. The default resolves host with Resolver and
	// uses port 53; tests point it at their own servers.
	NSAddrs func(ctx context.Context, host string) ([]string, error)
}

// Check diagnoses domain. The error is for a domain that cannot be asked
// at all; everything found about the domain is in the Report.
func Check(ctx context.Context, domain string, cfg Config) (*Report, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("dnscheck: no resolver")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.NSAddrs == nil {
		cfg.NSAddrs = func(ctx context.Context, host string) ([]string, error) {
			ips, err := resolver.LookupIP(ctx, cfg.Resolver, host)
			addrs := make([]string, 0, len(ips))
			for _, ip := range ips {
				addrs = append(addrs, net.JoinHostPort(ip.String(), "53"))
			}
			return addrs, err
		}
	}
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if domain == "" || strings.ContainsAny(domain, " @[]/") {
		return nil, fmt.Errorf("dnscheck: %q is not a domain name", domain)
	}
	r := &Report{Domain: domain + ".", MX: []MX{}, NameServers: []NameServer{}, Problems: []Problem{}}
	c := &checker{cfg: cfg, r: r}
	if err := c.mx(ctx); err != nil {
		return nil, err
	}
	for i := range r.MX {
		c.host(ctx, &r.MX[i])
	}
	c.servers(ctx)
	return r, nil
}

type checker struct {
	cfg Config
	r   *Report
}

// mx reads the MX records, or the implicit MX of a domain without them.
func (c *checker) mx(ctx context.Context) error {
	r := c.r
	res, err := c.cfg.Resolver.Lookup(ctx, r.Domain, resolver.TypeMX)
	if errors.Is(err, resolver.ErrBadName) {
		return fmt.Errorf("dnscheck: %w", err)
	}
	if err != nil {
		r.add(LevelError, "lookup-failed", "MX lookup for %s failed: %v", r.Domain, err)
		return nil
	}
	if len(res.CNAMEs) > 0 {
		r.add(LevelNote, "domain-cname", "%s is an alias (CNAME) of %s; mail for it goes by the MX of %s", r.Domain, res.CNAMEs[len(res.CNAMEs)-1], res.CNAMEs[len(res.CNAMEs)-1])
	}
	if res.NXDomain {
		r.add(LevelError, "no-domain", "%s does not exist (NXDOMAIN)", r.Domain)
		return nil
	}
	seenHost := map[string]uint16{}
	seenPref := map[uint16]string{}
	for _, d := range res.Data() {
		pref, host, ok := parseMX(d)
		if !ok {
			r.add(LevelError, "mx-malformed", "MX record %q cannot be read", d)
			continue
		}
		if host == "." {
			r.NullMX = true
			continue
		}
		if p, dup := seenHost[strings.ToLower(host)]; dup {
			r.add(LevelWarning, "mx-duplicate", "%s is listed twice, with preferences %d and %d", host, p, pref)
			continue
		}
		if other, same := seenPref[pref]; same {
			r.add(LevelNote, "mx-same-preference", "%s and %s share preference %d: senders pick either at random", other, host, pref)
		}
		seenHost[strings.ToLower(host)] = pref
		seenPref[pref] = host
		r.MX = append(r.MX, MX{Preference: pref, Host: host, Addresses: []Address{}})
	}
	slices.SortStableFunc(r.MX, func(a, b MX) int { return int(a.Preference) - int(b.Preference) })
	switch {
	case r.NullMX && len(r.MX) > 0:
		r.add(LevelError, "null-mx-mixed", "a null MX (\"0 .\") must be the only MX record (RFC 7505 section 3), but %d other(s) are listed", len(r.MX))
	case r.NullMX:
		r.add(LevelNote, "null-mx", "%s declares that it accepts no mail (null MX, RFC 7505)", r.Domain)
	case len(r.MX) == 0:
		ips, err := resolver.LookupIP(ctx, c.cfg.Resolver, r.Domain)
		switch {
		case err != nil:
			r.add(LevelError, "lookup-failed", "%s has no MX and its address lookup failed: %v", r.Domain, err)
		case len(ips) == 0:
			r.add(LevelError, "no-mail-host", "%s has no MX and no address (A/AAAA): mail to it cannot be delivered", r.Domain)
		default:
			r.ImplicitMX = true
			r.MX = []MX{{Host: r.Domain, Addresses: []Address{}}}
			r.add(LevelWarning, "no-mx", "%s has no MX record; senders fall back to its address (RFC 5321 section 5.1), which many treat as a sign of a domain that does not receive mail", r.Domain)
		}
	}
	return nil
}

func parseMX(data string) (uint16, string, bool) {
	f := strings.Fields(data)
	if len(f) != 2 {
		return 0, "", false
	}
	p, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return 0, "", false
	}
	return uint16(p), f[1], true
}

// host checks one mail host: a name, not an alias nor an address, with
// addresses, each with reverse DNS that leads back to it.
func (c *checker) host(ctx context.Context, mx *MX) {
	r := c.r
	name := strings.TrimSuffix(mx.Host, ".")
	if ip, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		r.add(LevelError, "mx-literal", "MX %s is an IP address; an MX must name a host (RFC 1035 section 3.3.9), so senders look up %s as a name and fail", mx.Host, ip)
		return
	}
	var (
		ips     []netip.Addr
		nx      = true
		tempErr error
	)
	for _, qt := range []uint16{resolver.TypeA, resolver.TypeAAAA} {
		res, err := c.cfg.Resolver.Lookup(ctx, mx.Host, qt)
		if err != nil {
			tempErr = err
			nx = false
			continue
		}
		if len(mx.CNAMEs) == 0 && len(res.CNAMEs) > 0 {
			mx.CNAMEs = res.CNAMEs
		}
		nx = nx && res.NXDomain
		for _, d := range res.Data() {
			if ip, err := netip.ParseAddr(d); err == nil {
				ips = append(ips, ip)
			}
		}
	}
	if len(mx.CNAMEs) > 0 && !r.ImplicitMX {
		r.add(LevelError, "mx-cname", "MX %s is an alias (CNAME) of %s; an MX must name the host itself (RFC 2181 section 10.3, RFC 5321 section 5.1)", mx.Host, mx.CNAMEs[len(mx.CNAMEs)-1])
	}
	switch {
	case len(ips) > 0:
	case tempErr != nil:
		r.add(LevelError, "lookup-failed", "address lookup for %s failed: %v", mx.Host, tempErr)
		return
	case nx:
		r.add(LevelError, "mx-nxdomain", "MX %s does not exist (NXDOMAIN)", mx.Host)
		return
	default:
		r.add(LevelError, "mx-no-address", "MX %s has no address (no A or AAAA record)", mx.Host)
		return
	}
	for _, ip := range ips {
		a := Address{IP: ip.String(), PTR: []string{}}
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() {
			r.add(LevelError, "mx-private-address", "MX %s has the address %s, which cannot be reached from the Internet", mx.Host, ip)
		}
		names, err := resolver.LookupAddr(ctx, c.cfg.Resolver, ip)
		switch {
		case err != nil:
			// A failed lookup (REFUSED, SERVFAIL, a timeout) says
			// nothing about whether a PTR exists.
			a.PTRError = shortErr(err)
			r.add(LevelWarning, "lookup-failed", "PTR lookup for %s (%s) failed: %v", ip, mx.Host, err)
		case len(names) == 0:
			r.add(LevelWarning, "ptr-missing", "%s (%s) has no PTR record; many receivers distrust mail from addresses without reverse DNS", ip, mx.Host)
		default:
			a.PTR = names
			var backErr error
			for _, n := range names {
				back, err := resolver.LookupIP(ctx, c.cfg.Resolver, n)
				if err != nil {
					backErr = err
					continue
				}
				if slices.Contains(back, ip) {
					a.ForwardConfirmed = true
					break
				}
			}
			switch {
			case a.ForwardConfirmed:
			case backErr != nil:
				// Not confirmed, but not refuted either.
				a.ForwardError = shortErr(backErr)
				r.add(LevelWarning, "lookup-failed", "cannot check that the PTR of %s (%s), %s, resolves back to it: %v", ip, mx.Host, strings.Join(names, ", "), backErr)
			default:
				r.add(LevelWarning, "ptr-mismatch", "the PTR of %s (%s) is %s, which does not resolve back to %s", ip, mx.Host, strings.Join(names, ", "), ip)
			}
		}
		mx.Addresses = append(mx.Addresses, a)
	}
}
