package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"mailguard/resolver"
)

// servers asks each authoritative server of the domain's zone, directly
// and without recursion, for the zone's SOA, the domain's MX and the
// addresses of the mail hosts inside the zone, and reports where they
// disagree: a secondary that missed an update, a server that lost the zone.
func (c *checker) servers(ctx context.Context) {
	r := c.r
	zone, err := c.zone(ctx)
	switch {
	case errors.Is(err, errNoSOA) && r.nxDomain():
		// A domain that does not exist has no zone of its own; its
		// no-domain error says it all.
		return
	case errors.Is(err, errNoSOA):
		r.add(LevelWarning, "no-soa", "no SOA record found for %s or any parent, so its name servers cannot be asked", r.Domain)
		return
	case err != nil:
		r.add(LevelWarning, "lookup-failed", "cannot find the zone of %s: %v", r.Domain, err)
		return
	}
	r.Zone = zone
	nsRes, err := c.cfg.Resolver.Lookup(ctx, zone, resolver.TypeNS)
	if err != nil {
		r.add(LevelWarning, "lookup-failed", "NS lookup for %s failed: %v", zone, err)
		return
	}
	names := nsRes.Data()
	if len(names) == 0 {
		r.add(LevelError, "no-ns", "zone %s has no NS records", zone)
		return
	}
	if len(names) == 1 {
		r.add(LevelWarning, "single-ns", "zone %s has a single name server, %s; RFC 2182 asks for at least two", zone, names[0])
	}

	// Questions whose answers must agree everywhere: the MX, and the
	// addresses of mail hosts the zone itself holds.
	type question struct {
		name  string
		qtype uint16
		label string
	}
	qs := []question{{r.Domain, resolver.TypeMX, "MX of " + r.Domain}}
	if !r.ImplicitMX {
		for _, mx := range r.MX {
			if inZone(mx.Host, zone) {
				qs = append(qs, question{mx.Host, resolver.TypeA, "A of " + mx.Host}, question{mx.Host, resolver.TypeAAAA, "AAAA of " + mx.Host})
			}
		}
	} else {
		qs = append(qs, question{r.Domain, resolver.TypeA, "A of " + r.Domain}, question{r.Domain, resolver.TypeAAAA, "AAAA of " + r.Domain})
	}
	answers := make([]map[string][]string, len(qs)) // per question: answer -> servers
	serials := map[uint32][]string{}

	for _, ns := range names {
		addrs, err := c.cfg.NSAddrs(ctx, ns)
		if err != nil || len(addrs) == 0 {
			msg := "has no address"
			if err != nil {
				msg = "address lookup failed: " + oneLine(err.Error())
			}
			r.NameServers = append(r.NameServers, NameServer{Name: ns, Error: msg})
			r.add(LevelError, "ns-no-address", "name server %s of %s %s", ns, zone, msg)
			continue
		}
		for _, addr := range addrs {
			who := ns + " (" + addr + ")"
			s := NameServer{Name: ns, Address: addr}
			soa, err := resolver.AskServer(ctx, addr, zone, resolver.TypeSOA, c.cfg.Timeout)
			if err != nil {
				s.Error = oneLine(err.Error())
				r.NameServers = append(r.NameServers, s)
				if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
					// This machine has no route there (often: no IPv6);
					// that says nothing about the server.
					r.add(LevelNote, "ns-skipped", "name server %s cannot be reached from this machine: %v", who, err)
					continue
				}
				r.add(LevelError, "ns-unreachable", "name server %s does not answer for %s: %v", who, zone, err)
				continue
			}
			s.Authoritative = soa.Authoritative
			if d := soa.Data(); len(d) == 1 {
				s.Serial = serialOf(d[0])
				serials[s.Serial] = append(serials[s.Serial], who)
			}
			if !soa.Authoritative || len(soa.Records) == 0 {
				r.NameServers = append(r.NameServers, s)
				r.add(LevelError, "ns-lame", "name server %s is not authoritative for %s (lame delegation)", who, zone)
				continue
			}
			for i, q := range qs {
				res, err := resolver.AskServer(ctx, addr, q.name, q.qtype, c.cfg.Timeout)
				var a string
				switch {
				case err != nil:
					a = "no answer (" + shortErr(err) + ")"
				case res.NXDomain:
					a = "NXDOMAIN"
				default:
					d := res.Data()
					for _, cn := range res.CNAMEs {
						d = append(d, "CNAME "+cn)
					}
					if len(d) == 0 {
						a = "no record"
					} else {
						a = strings.Join(d, ", ")
					}
					if q.qtype == resolver.TypeMX {
						s.MX = res.Data()
					}
				}
				if answers[i] == nil {
					answers[i] = map[string][]string{}
				}
				answers[i][a] = append(answers[i][a], who)
			}
			r.NameServers = append(r.NameServers, s)
		}
	}
	for i, q := range qs {
		if len(answers[i]) > 1 {
			r.add(LevelError, "ns-disagree", "the name servers of %s disagree on the %s: %s", zone, q.label, describe(answers[i]))
		}
	}
	if len(serials) > 1 {
		parts := map[string][]string{}
		for s, who := range serials {
			parts["serial "+strconv.FormatUint(uint64(s), 10)] = who
		}
		r.add(LevelWarning, "ns-serial", "the name servers of %s hold different versions of the zone: %s", zone, describe(parts))
	}
}

// zone finds the zone holding the domain: the owner of its SOA, which a
// negative answer carries in its authority section.
func (c *checker) zone(ctx context.Context) (string, error) {
	name := c.r.Domain
	for range 10 {
		res, err := c.cfg.Resolver.Lookup(ctx, name, resolver.TypeSOA)
		if err != nil {
			return "", err
		}
		if len(res.Records) > 0 && len(res.CNAMEs) == 0 {
			return strings.ToLower(name), nil
		}
		if z, _ := res.AuthoritySOA(); z != "" {
			return strings.ToLower(z), nil
		}
		// No SOA anywhere in the answer: try the parent.
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			break
		}
		name = name[i+1:]
	}
	return "", fmt.Errorf("%s: %w", c.r.Domain, errNoSOA)
}

// errNoSOA is a name with no SOA above it: no zone to ask about. It is
// an answer, not a failed lookup.
var errNoSOA = errors.New("no SOA record for the name or any parent")

// nxDomain reports whether the domain was found not to exist.
func (r *Report) nxDomain() bool {
	for _, p := range r.Problems {
		if p.Code == "no-domain" {
			return true
		}
	}
	return false
}

func inZone(host, zone string) bool {
	host, zone = strings.ToLower(host), strings.ToLower(zone)
	return host == zone || strings.HasSuffix(host, "."+zone)
}

func serialOf(soaData string) uint32 {
	f := strings.Fields(soaData)
	if len(f) < 3 {
		return 0
	}
	n, _ := strconv.ParseUint(f[2], 10, 32)
	return uint32(n)
}

// describe renders "ANSWER from SERVER, SERVER; ANSWER from SERVER".
func describe(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s says %s", strings.Join(m[k], ", "), k))
	}
	return strings.Join(parts, "; ")
}

// shortErr names a failed direct question briefly, for comparisons.
func shortErr(err error) string {
	s := err.Error()
	for _, k := range []string{"timeout", "SERVFAIL", "REFUSED", "refused"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}
