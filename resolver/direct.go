package resolver

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// AskServer sends one non-recursive question straight to server (host:port),
// as `dig +norecurse @server` does, bypassing the cache: over UDP, again over
// TCP when truncated, no retry. It is for diagnosing a zone's authoritative
// servers; the Result's Authoritative and Authority tell what the server
// claimed. The answer's CNAMEs are read but not followed. A SERVFAIL or
// REFUSED answer is an error wrapping ErrTemporary, naming the rcode.
func AskServer(ctx context.Context, server, name string, qtype uint16, timeout time.Duration) (Result, error) {
	name, err := checkName(name)
	if err != nil {
		return Result{}, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	q.SetEdns0(udpSize, false)
	m, err := ask(ctx, &dns.Client{Net: "udp", UDPSize: udpSize}, &dns.Client{Net: "tcp"}, q, server)
	if err != nil {
		return Result{}, fmt.Errorf("ask %s for %s %s: %w: %w", server, name, dns.TypeToString[qtype], err, ErrTemporary)
	}
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return fromMsg(m, name, qtype), nil
	}
	return Result{}, fmt.Errorf("ask %s for %s %s: %s: %w", server, name, dns.TypeToString[qtype], dns.RcodeToString[m.Rcode], ErrTemporary)
}
