// Package rbl checks clients and domains against DNS lists (RFC 5782): IP
// lists (DNSBL, and DUL/PBL lists of dynamic address space) for the client
// address, and domain lists (RHSBL) for the HELO name and the sender's
// domain.
//
// A list is asked for a name made of the item and the list's zone: the
// client 192.0.2.1 on zen.example is 1.2.0.192.zen.example, an IPv6 client
// uses its 32 nibbles reversed, a domain is prefixed as is
// (bad.example.dbl.example). An A record in 127.0.0.0/8 means listed; the
// value says why (127.0.0.2 spam source, 127.0.0.10 dynamic space, ...) and
// a list may be narrowed to some values with codes, or with a bit mask for
// lists that encode several sublists in one answer. A TXT record at the
// same name gives a reason, quoted in the reply. Answers outside
// 127.0.0.0/8 and in 127.255.255.0/24 (the lists' "query refused" codes,
// sent to open resolvers and over-quota users) are never listings: they are
// logged as warnings so the operator notices a misconfigured resolver.
//
// Queries for the client address start when the client connects, in
// parallel, and are awaited at RCPT TO, where a listed client of a reject
// list gets Postfix's reply. A list that does not answer in time, or fails,
// counts as not listed: a DNS outage must not stop mail.
package rbl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"mailguard/metrics"
	"mailguard/resolver"
)

// List is one DNS list.
type List struct {
	// Zone is the list's DNS zone (zen.spamhaus.org).
	Zone string
	// Reject refuses listed clients at RCPT TO; otherwise Weight is added
	// to the message's score (a negative weight makes an allow list such
	// as a DNSWL lower the score).
	Reject bool
	Weight float64
	// Codes are the answers that count; none means any in 127.0.0.0/8.
	Codes []netip.Addr
	// Mask, when not zero, counts an answer when its last three octets
	// AND Mask is not zero (answer 127.0.0.6 with mask 0x02 counts).
	Mask uint32
}

// Config configures the DNSBL and RHSBL filters.
type Config struct {
	Lists    []List
	Resolver resolver.Resolver
	// Timeout bounds each list's lookup (dns.timeout; default 2s).
	Timeout time.Duration
	// Log is used for lookups that outlive a transaction (default
	// slog.Default()); decisions are logged on the transaction's logger.
	Log *slog.Logger
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = resolver.DefaultTimeout
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// counts reports whether answer a is a listing on l. refusal is true for
// answers that are not listings and deserve a warning.
func (l *List) counts(a netip.Addr) (listed, refusal bool) {
	a = a.Unmap()
	if !a.Is4() || !loopback.Contains(a) || refused.Contains(a) {
		return false, true
	}
	if len(l.Codes) > 0 {
		for _, c := range l.Codes {
			if c == a {
				return true, false
			}
		}
		return false, false
	}
	if l.Mask != 0 {
		return maskBits(a)&l.Mask != 0, false
	}
	return true, false
}

// TestName is the name under which a score list's weight appears in
// X-Spam-Status, SpamAssassin style: prefix and the zone upper-cased with
// dots and dashes as underscores (RCVD_IN_ZEN_SPAMHAUS_ORG).
func TestName(prefix, zone string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.TrimSuffix(zone, ".") {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Listing is the outcome of asking one list about one item.
type Listing struct {
	Listed bool
	// Answer is the A record that made the listing.
	Answer netip.Addr
	// Reason is the list's TXT record, made safe for a reply; "" when the
	// list gave none.
	Reason string
	// Err is a failed lookup (the item then counts as not listed).
	Err error
}

// Lookup asks list l about name (the item already joined to the zone, as
// resolver.ReverseName or Query builds it). The TXT reason is fetched for
// listings on reject lists only, as it appears only in replies.
func Lookup(ctx context.Context, r resolver.Resolver, l *List, name string, log *slog.Logger) Listing {
	out := lookup(ctx, r, l, name, log)
	metrics.DNSListQueries.WithLabelValues(l.Zone, queryResult(out)).Inc()
	return out
}

func lookup(ctx context.Context, r resolver.Resolver, l *List, name string, log *slog.Logger) Listing {
	addrs, err := resolver.LookupIP4(ctx, r, name)
	if err != nil {
		return Listing{Err: err}
	}
	var out Listing
	for _, a := range addrs {
		listed, refusal := l.counts(a)
		if refusal {
			log.Warn("dns list answer is not a listing; check the resolver is allowed to query the list", "zone", l.Zone, "query", name, "answer", a.String())
			continue
		}
		if listed && !out.Listed {
			out.Listed, out.Answer = true, a
		}
	}
	if out.Listed && l.Reject {
		if txts, err := resolver.LookupTXT(ctx, r, name); err == nil && len(txts) > 0 {
			out.Reason = cleanReason(txts[0])
		}
	}
	return out
}

// cleanReason keeps a list's TXT reason to one line of printable ASCII of
// reasonable length, as it goes into an SMTP reply.
func cleanReason(s string) string {
	const maxLen = 200
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
		if b.Len() >= maxLen {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

// queryResult names a lookup's result for the metrics.
func queryResult(l Listing) string {
	var ne net.Error
	switch {
	case l.Listed:
		return metrics.Listed
	case l.Err == nil:
		return metrics.Clean
	case errors.Is(l.Err, context.DeadlineExceeded) || errors.As(l.Err, &ne) && ne.Timeout():
		return metrics.Timeout
	}
	return metrics.Error
}
