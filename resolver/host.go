package resolver

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Host is what the A and AAAA records say about a host name.
type Host struct {
	// Addrs are the IPv4 addresses, then the IPv6 ones, each family in
	// the order received, so a caller trying them in turn tries IPv4 first.
	Addrs []netip.Addr
	// Alias is true when the name is an alias (a CNAME) of another.
	Alias bool
}

// LookupHost asks for the A and AAAA records of host at once. One family
// failing while the other has addresses is no failure; when neither has
// any, the error joins both families' failures (each wrapping ErrTemporary
// or ErrBadName). A name that does not exist or has no address records is
// an empty Host and a nil error.
func LookupHost(ctx context.Context, r Resolver, host string) (Host, error) {
	var (
		h    Host
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs [2]error
		got  [2][]netip.Addr
	)
	for i, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Lookup(ctx, host, qt)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[i] = err
				return
			}
			if len(res.CNAMEs) > 0 {
				h.Alias = true
			}
			got[i] = addrsOf(res)
		}()
	}
	wg.Wait()
	h.Addrs = append(got[0], got[1]...)
	if len(h.Addrs) > 0 {
		return h, nil
	}
	return h, errors.Join(errs[0], errs[1])
}

// addrsOf returns the addresses of the A and AAAA records of res.
func addrsOf(res Result) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range res.Records {
		switch rr := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
				addrs = append(addrs, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs
}

// maxConfirmPTR bounds how many reverse names ConfirmedName tries.
const maxConfirmPTR = 4

// ConfirmedName returns the forward-confirmed reverse name of ip: the first
// of its PTR names (at most four are tried) whose A records (AAAA for an
// IPv6 address) include ip again, lower-cased and without the trailing dot.
// This is the "name" of Postfix's "name[ip]". Any failure, temporary or
// not, and a name that does not confirm give "". Each question may take
// each, the whole search at most two of each.
func ConfirmedName(ctx context.Context, r Resolver, ip netip.Addr, each time.Duration) string {
	if r == nil || !ip.IsValid() {
		return ""
	}
	ctx, cancelAll := context.WithTimeout(ctx, 2*each)
	defer cancelAll()
	lctx, cancel := context.WithTimeout(ctx, each)
	res, err := r.Lookup(lctx, ReverseName(ip, ""), dns.TypePTR)
	cancel()
	if err != nil {
		return ""
	}
	qtype := dns.TypeA
	if ip.Is6() {
		qtype = dns.TypeAAAA
	}
	tried := 0
	for _, rr := range res.Records {
		ptr, ok := rr.(*dns.PTR)
		if !ok {
			continue
		}
		if tried++; tried > maxConfirmPTR {
			break
		}
		name := strings.TrimSuffix(ptr.Ptr, ".")
		lctx, cancel := context.WithTimeout(ctx, each)
		fwd, err := r.Lookup(lctx, name, qtype)
		cancel()
		if err != nil {
			continue
		}
		for _, a := range addrsOf(fwd) {
			if a.Unmap() == ip {
				return strings.ToLower(name)
			}
		}
	}
	return ""
}
