package rules

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"mailguard/rbl"
)

// DataPath joins elem onto data_dir: where the embedded stores keep their
// files.
func (c *Config) DataPath(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}

// ParsePrefix parses a CIDR ("192.0.2.0/24", "2001:db8::/32") or a bare
// address, which stands for itself (/32 or /128). Host bits are cleared, as
// Postfix's mynetworks does.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR such as 192.0.2.0/24 or an address)", s)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped network needs at least 96 bits", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR such as 192.0.2.0/24 or an address)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParsePrefixes parses a list of networks (see ParsePrefix); the error
// names every bad entry.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	var errs []error
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ParseCodes parses a zone's codes with rbl.ParseCode: the 127.0.0.0/8
// answers that count as a listing. None means any answer in 127.0.0.0/8
// counts.
func (z ListZone) ParseCodes() ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(z.Codes))
	for _, s := range z.Codes {
		a, err := rbl.ParseCode(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseMask parses a zone's mask with rbl.ParseMask; ok is false when no
// mask is set.
func (z ListZone) ParseMask() (mask uint32, ok bool, err error) {
	return rbl.ParseMask(z.Mask)
}

// domainProblem says what is wrong with a domain name, or "" when nothing
// is. Names are ASCII (internationalised ones in their xn-- form), of
// letters, digits and hyphens (underscores too, as in DNS zones), in labels
// of 1-63 octets, 253 in all, with no trailing dot.
func domainProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > 253 {
		return "is longer than 253 octets"
	}
	if strings.HasSuffix(s, ".") {
		return "ends with a dot; write it without"
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return "has an empty label (two dots in a row, or a leading dot)"
		}
		if len(label) > 63 {
			return fmt.Sprintf("has a label longer than 63 octets (%.20s...)", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("has a label %q that begins or ends with a hyphen", label)
		}
		for _, r := range label {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			case r > 127:
				return "is not ASCII; write an internationalised name in its xn-- form"
			default:
				return fmt.Sprintf("holds %q, which a domain name cannot", r)
			}
		}
	}
	return ""
}

func validDomain(s string) bool { return domainProblem(s) == "" }

// senderProblem checks a block/allow sender entry: an address
// (user@example.org) or a whole domain (@example.org).
func senderProblem(s string) string {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "is neither an address (user@example.org) nor a domain (@example.org)"
	}
	local, domain := s[:i], s[i+1:]
	if p := domainProblem(domain); p != "" {
		return "has a domain that " + p
	}
	if strings.ContainsAny(local, " \t<>,;") {
		return "has a local part with a space or one of <>,;"
	}
	return ""
}

// hostPortProblem checks host:port. A listener may leave the host out (all
// addresses) and use port 0 (any free port); a peer may not.
func hostPortProblem(s string, listener bool) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "is not host:port"
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil:
		return fmt.Sprintf("has port %q, not a number", port)
	case n < 0 || n > 65535 || (n == 0 && !listener):
		if listener {
			return fmt.Sprintf("has port %d, not 0-65535", n)
		}
		return fmt.Sprintf("has port %d, not 1-65535", n)
	}
	if host == "" {
		if listener {
			return ""
		}
		return "has no host"
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" && !a.Is6() {
			return "has a zone on an IPv4 address"
		}
		return ""
	}
	if p := domainProblem(host); p != "" {
		return "has a host that " + p
	}
	return ""
}
