package authres

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"mailguard/resolver"
)

// The SPF and DKIM libraries ask DNS through net.Resolver-shaped functions
// and tell temporary failures by *net.DNSError's Temporary(). dnsAdapter
// puts the gateway's resolver (and its cache) behind that shape, so every
// question goes to the configured server with the transaction's deadline.

type txtFunc func(ctx context.Context, name string) ([]string, error)

type dnsAdapter struct {
	r resolver.Resolver
}

// netError converts our resolver's error into the *net.DNSError the
// libraries inspect, keeping temporary failures temporary.
func netError(name string, err error) error {
	if err == nil {
		return nil
	}
	return &net.DNSError{
		Err:         err.Error(),
		Name:        name,
		IsTemporary: errors.Is(err, resolver.ErrTemporary),
		IsTimeout:   errors.Is(err, context.DeadlineExceeded),
	}
}

// isNotFound reports whether err says the name does not exist. The
// resolver's helpers answer NXDOMAIN with an empty list, so this only
// catches what a library made of it.
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func (a dnsAdapter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := resolver.LookupTXT(ctx, a.r, name)
	return txts, netError(name, err)
}

func (a dnsAdapter) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, _, err := resolver.LookupMX(ctx, a.r, name)
	if err != nil {
		return nil, netError(name, err)
	}
	out := make([]*net.MX, 0, len(mxs))
	for _, mx := range mxs {
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

func (a dnsAdapter) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := resolver.LookupIP(ctx, a.r, host)
	if err != nil {
		return nil, netError(host, err)
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.IP(ip.AsSlice())})
	}
	return out, nil
}

func (a dnsAdapter) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr}
	}
	names, err := resolver.LookupAddr(ctx, a.r, ip)
	return names, netError(fqdn(addr), err)
}

// fqdn returns name with the trailing dot of a fully qualified name.
func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
