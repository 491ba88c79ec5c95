// Package resolver is the gateway's DNS client: github.com/miekg/dns behind a
// small interface, with a TTL-aware cache in front, so the rest of the code
// never depends on the DNS library and tests can point it at their own
// server. Beside the Resolver it holds the lookups the checks share, each
// written once: a host's addresses (LookupHost, LookupIP), MX and TXT
// records, reverse names and the forward-confirmed reverse name
// (ConfirmedName), and one server asked directly (AskServer, for dnscheck).
// Only this package and the test DNS server import the DNS library
// (TestOnlyResolverImportsDNSLibrary).
package resolver

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"
)

// ErrTemporary marks failures that may go away on retry: SERVFAIL, timeouts,
// network errors. Callers answer 4xx for them, never 5xx.
var ErrTemporary = errors.New("temporary DNS failure")

// Result is the answer to one question.
type Result struct {
	// Records are the answer records of the asked type (after following
	// CNAMEs); CNAMEs holds the aliases followed, in order.
	Records []dns.RR
	CNAMEs  []string
	// NXDomain is true when the name does not exist. A name that exists
	// with no record of the type has NXDomain false and no Records.
	NXDomain bool
	// TTL is how long the answer may be cached.
	TTL time.Duration
	// Authoritative is the AA bit of the (last) answer; Authority is its
	// authority section (the SOA of a negative answer, the NS of a
	// referral). Callers must not modify the slices: cached results share
	// them.
	Authoritative bool
	Authority     []dns.RR
}

// Resolver answers DNS questions. Errors wrap ErrTemporary when a retry may
// succeed; NXDOMAIN and NODATA are results, not errors.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (Result, error)
}
