package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"mailguard/filters"
	"mailguard/resolver"
)

// Test names of the sender domain's scored DNS faults. An MX record has no
// "missing preference" case to detect: the preference is a fixed 16-bit
// field of the record on the wire (RFC 1035 section 3.3.9), so a zone that
// omits it does not load and nothing of it reaches a resolver.
const (
	// TestMXCNAME: an MX names an alias, which RFC 2181 section 10.3 and
	// RFC 5321 section 5.1 forbid; most MTAs cope, some do not.
	TestMXCNAME = "SENDER_MX_CNAME"
	// TestMXIPLiteral: an MX names an IP address instead of a host
	// (RFC 5321 section 5.1 forbids it); MTAs will not use it.
	TestMXIPLiteral = "SENDER_MX_IP_LITERAL"
	// TestMXNoAddress: some MX hosts (not all) have no address.
	TestMXNoAddress = "SENDER_MX_NO_ADDRESS"
)

// DefaultSenderWeights are the points of the scored faults.
var DefaultSenderWeights = map[string]float64{
	TestMXCNAME:     0.5,
	TestMXIPLiteral: 1.5,
	TestMXNoAddress: 1.0,
}

// maxMXHosts bounds the MX hosts looked at: enough for any real domain,
// few enough that a hostile zone cannot make one MAIL FROM cost hundreds
// of queries.
const maxMXHosts = 10

// maxCalloutServers bounds the addresses a sender callout tries.
const maxCalloutServers = 3

// SenderConfig configures sender domain verification.
type SenderConfig struct {
	Resolver resolver.Resolver
	// Verify refuses senders whose domain cannot receive mail
	// (sender_verify).
	Verify bool
	// Weights are the points of the scored faults; a missing name takes
	// its DefaultSenderWeights value.
	Weights map[string]float64
	// Callout, when not nil, probes the sender's address at its domain's
	// MX hosts (sender_callout).
	Callout *Callout
	// CalloutPort is the port the MX hosts are probed on (default 25).
	CalloutPort int
}

// Sender verifies the MAIL FROM domain, as Postfix's
// reject_unknown_sender_domain does: it needs an MX, or else an address
// record (the implicit MX of RFC 5321 section 5.1), or a reply to it would
// have nowhere to go. With a callout it also asks the domain's mail server
// whether the address itself exists (reject_unverified_sender).
//
// The null sender always passes: bounces must get through. Relay and
// authenticated clients and allow.networks clients are not checked: in
// Postfix the check sits after permit_mynetworks and
// permit_sasl_authenticated, and they are the operator's own.
type Sender struct {
	res     resolver.Resolver
	verify  bool
	weights map[string]float64
	callout *Callout
	port    string
}

// NewSender builds sender verification.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("sender verification: no resolver")
	}
	w := map[string]float64{}
	for k, v := range DefaultSenderWeights {
		w[k] = v
	}
	for k, v := range cfg.Weights {
		if _, ok := DefaultSenderWeights[k]; !ok {
			return nil, fmt.Errorf("sender verification: unknown test %q", k)
		}
		w[k] = v
	}
	port := cfg.CalloutPort
	if port == 0 {
		port = DefaultCalloutPort
	}
	return &Sender{res: cfg.Resolver, verify: cfg.Verify, weights: w, callout: cfg.Callout, port: strconv.Itoa(port)}, nil
}

// Name implements filters.Filter.
func (s *Sender) Name() string { return "sender" }

// CheckMail verifies the sender.
func (s *Sender) CheckMail(ctx context.Context, t *filters.Transaction) filters.Verdict {
	if t.MailFrom == "" || t.Conn.MayRelay() || t.Conn.AllowListed() {
		return filters.Pass()
	}
	a := parseAddress(t.MailFrom)
	if a.Domain == "" {
		if a.Trick == "malformed domain" && s.verify {
			return filters.Refuse(filters.ReplySenderUnknownDomain.About(a.Display), "malformed sender domain")
		}
		// A domain literal or a bare local part names no domain to look up.
		return filters.Pass()
	}
	d := s.lookup(ctx, a.Domain)
	if d.fault == faultTemporary {
		t.Log.Warn("sender domain lookup failed", "domain", a.Domain, "err", d.err)
	}
	var v filters.Verdict
	if s.verify {
		switch {
		case d.fault == faultNullMX:
			return filters.Refuse(filters.ReplySenderNullMX.About(a.Display), d.why)
		case d.fault == faultUnknown:
			return filters.Refuse(filters.ReplySenderUnknownDomain.About(a.Display), d.why)
		case d.fault == faultTemporary:
			return filters.Refuse(filters.ReplySenderTempfail.About(a.Display), d.why)
		}
		for _, test := range d.tests {
			// A weight of 0 turns a test off, as in SpamAssassin.
			if p := s.weights[test]; p != 0 {
				v.Scores = append(v.Scores, filters.Score{Test: test, Points: p})
			}
		}
		v.Reason = strings.Join(d.notes, "; ")
	}
	if s.callout == nil || d.fault != faultNone {
		return v
	}
	return s.calloutVerdict(ctx, t, a, d, v)
}

func (s *Sender) calloutVerdict(ctx context.Context, t *filters.Transaction, a address, d domainInfo, v filters.Verdict) filters.Verdict {
	res := s.callout.verify(ctx, t.Log, "sender "+a.key(), a.Domain, a.Display, func(context.Context) ([]string, error) {
		var servers []string
		for _, h := range d.hosts {
			for _, ip := range h.addrs {
				servers = append(servers, net.JoinHostPort(ip.String(), s.port))
				if len(servers) == maxCalloutServers {
					return servers, nil
				}
			}
		}
		return servers, nil
	})
	switch res.status {
	case probeAccepted:
		return v
	case probeRefused:
		said := res.reply.String()
		if res.server != "" {
			said = res.server + " said: " + said
		}
		return filters.Refuse(filters.ReplySenderUnverified.About(a.Display).Because(said), "sender callout refused")
	}
	return filters.Refuse(filters.ReplySenderUnverifiedTmp.About(a.Display), "sender callout: "+res.why)
}

type fault uint8

const (
	faultNone fault = iota
	faultUnknown
	faultNullMX
	faultTemporary
)

// domainInfo is what DNS says about a sender domain.
type domainInfo struct {
	fault fault
	why   string
	err   error
	// hosts are the mail hosts with addresses, by MX preference.
	hosts []mailHost
	// tests are the scored faults found; notes explain them.
	tests []string
	notes []string
}

type mailHost struct {
	name  string
	addrs []netip.Addr
}

// lookup finds the domain's mail hosts: its MX records, or the domain
// itself when it has none (RFC 5321 section 5.1).
func (s *Sender) lookup(ctx context.Context, domain string) domainInfo {
	var d domainInfo
	mxs, res, err := resolver.LookupMX(ctx, s.res, domain)
	switch {
	case errors.Is(err, resolver.ErrBadName):
		d.fault, d.why = faultUnknown, "not a valid domain name"
		return d
	case err != nil:
		d.fault, d.why, d.err = faultTemporary, "MX lookup failed", err
		return d
	case res.NXDomain:
		d.fault, d.why = faultUnknown, "domain does not exist"
		return d
	}
	// RFC 7505 section 3: a null MX is the only MX, preference 0, ".".
	if len(mxs) == 1 && mxs[0].Preference == 0 && mxs[0].Mx == "." {
		d.fault, d.why = faultNullMX, "null MX"
		return d
	}
	if len(mxs) == 0 {
		h := s.hostAddrs(ctx, domain)
		switch {
		case len(h.addrs) > 0:
			d.hosts = []mailHost{{name: domain, addrs: h.addrs}}
		case h.err != nil:
			d.fault, d.why, d.err = faultTemporary, "no MX; address lookup failed", h.err
		default:
			d.fault, d.why = faultUnknown, "no MX and no A/AAAA record"
		}
		return d
	}

	var names []string
	for _, mx := range mxs {
		// A "." target among other MX records is a broken null MX;
		// it names no host, and the other records still count.
		if mx.Mx != "." && len(names) < maxMXHosts {
			names = append(names, mx.Mx)
		}
	}
	found := make([]hostInfo, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		if literal(n) {
			found[i] = hostInfo{literal: true}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i] = s.hostAddrs(ctx, n)
		}()
	}
	wg.Wait()

	var missing, tempErrs int
	for i, h := range found {
		name := strings.TrimSuffix(names[i], ".")
		switch {
		case h.literal:
			d.addTest(TestMXIPLiteral, "MX "+name+" is an IP literal")
			missing++
			continue
		case h.alias:
			d.addTest(TestMXCNAME, "MX "+name+" is an alias (CNAME)")
		}
		switch {
		case len(h.addrs) > 0:
			d.hosts = append(d.hosts, mailHost{name: name, addrs: h.addrs})
		case h.err != nil:
			tempErrs++
			d.err = h.err
		default:
			missing++
		}
	}
	switch {
	case len(d.hosts) > 0:
		// A host whose lookup failed for now may well have an address;
		// only the ones known to have none count against the domain.
		if missing > 0 {
			d.addTest(TestMXNoAddress, fmt.Sprintf("%d of %d MX hosts have no address", missing, len(names)))
		}
	case tempErrs > 0:
		d.fault, d.why = faultTemporary, "MX host address lookup failed"
	default:
		// Postfix's reject_unknown_sender_domain: no MX host resolves.
		d.fault, d.why = faultUnknown, "no MX host has an address"
	}
	return d
}

func (d *domainInfo) addTest(test, note string) {
	d.notes = append(d.notes, note)
	for _, t := range d.tests {
		if t == test {
			return
		}
	}
	d.tests = append(d.tests, test)
}

type hostInfo struct {
	addrs   []netip.Addr
	alias   bool
	literal bool
	err     error
}

// hostAddrs looks up host's addresses, IPv4 first so a probe tries it
// first, and notes whether host is an alias. A name that is not a valid
// domain name has no address, which is no lookup failure.
func (s *Sender) hostAddrs(ctx context.Context, host string) hostInfo {
	h, err := resolver.LookupHost(ctx, s.res, host)
	if errors.Is(err, resolver.ErrBadName) {
		err = nil
	}
	return hostInfo{addrs: h.Addrs, alias: h.Alias, err: err}
}

// literal reports whether an MX target is an IP address written as a name
// ("192.0.2.1." or "[192.0.2.1]").
func literal(name string) bool {
	n := strings.TrimSuffix(name, ".")
	n = strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")
	_, err := netip.ParseAddr(n)
	return err == nil
}
