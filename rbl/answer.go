package rbl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// What counts as a listing is stated here once: the configuration's
// validation (package rules) parses codes and masks with these functions,
// and List.counts applies the same ranges to answers.

var (
	// loopback is where every listing answer lies (RFC 5782 section 2.1).
	loopback = netip.MustParsePrefix("127.0.0.0/8")
	// refused are the answers lists send to open resolvers and over-quota
	// users ("query refused"), never a listing.
	refused = netip.MustParsePrefix("127.255.255.0/24")
)

// ParseCode parses one of a list's codes: an answer in 127.0.0.0/8,
// outside 127.255.255.0/24, that counts as a listing ("127.0.0.2"). The
// error says which rule s breaks.
func ParseCode(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() || !loopback.Contains(a) {
		return netip.Addr{}, fmt.Errorf("%q is not a list answer (an address in 127.0.0.0/8 such as 127.0.0.2)", s)
	}
	if refused.Contains(a) {
		return netip.Addr{}, fmt.Errorf("%q is in 127.255.255.0/24, the lists' \"query refused\" codes, never a listing", s)
	}
	return a, nil
}

// ParseMask parses a list's bit mask, for lists that encode several
// sublists in the bits of one answer (multi.surbl.org, ...). It is written
// as an address ("0.0.0.4", "127.0.0.12") or a number ("4", "0x0c"); an
// answer is a listing when answer AND mask is not zero in its last three
// octets. ok is false when s is empty (no mask).
func ParseMask(s string) (mask uint32, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() {
			return 0, false, fmt.Errorf("%q: a mask is an IPv4 address or a number", s)
		}
		mask = maskBits(a)
	} else {
		n, err := strconv.ParseUint(s, 0, 32)
		if err != nil || n > 0xffffff {
			return 0, false, fmt.Errorf("%q: a mask is an address such as 0.0.0.4 or a number up to 0xffffff", s)
		}
		mask = uint32(n)
	}
	if mask == 0 {
		return 0, false, fmt.Errorf("%q: a mask of zero matches nothing", s)
	}
	return mask, true, nil
}

// maskBits is the last three octets of an IPv4 address, the part a mask
// is compared with.
func maskBits(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
