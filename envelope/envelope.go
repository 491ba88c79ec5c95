// Package envelope checks SMTP envelope addresses and writes them back in
// their wire form (RFC 5321 section 4.1.2, RFC 6531 for SMTPUTF8).
//
// The SMTP server hands over an address with its local part unquoted:
// `"john smith"@example.org` arrives as `john smith@example.org`. That form
// is what the checks see; Path quotes the local part again wherever it is
// written into a command, so nothing inside an address can become a
// parameter of that command.
package envelope

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// The errors of Canonical.
var (
	// ErrSyntax is an address RFC 5321 does not allow: a control
	// character (NUL, CR, LF, TAB, DEL...), invalid UTF-8, an empty local
	// part, a malformed domain, a domain spelt with characters IDNA2008
	// disallows (fullwidth letters, U+3002 as a dot, a soft hyphen, a
	// zero-width space), a recipient without a domain other than
	// postmaster.
	ErrSyntax = errors.New("bad address syntax")
	// ErrNonASCII is a non-ASCII address in a transaction without
	// SMTPUTF8 (RFC 6531 section 3.5).
	ErrNonASCII = errors.New("non-ASCII address without SMTPUTF8")
)

// Limits of RFC 5321 section 4.5.3.1.
const (
	maxDomain = 255
	maxLabel  = 63
)

// Canonical checks addr, an address as the SMTP server hands it over (local
// part unquoted, no angle brackets), and returns the form the gateway
// checks and relays: the same address, with an internationalised domain in
// its ASCII form (RFC 5890 A-labels) and without a trailing dot. The empty
// address (the null reverse path) is returned as is. A recipient may be
// "postmaster" without a domain (RFC 5321 section 4.1.1.3), in any case;
// smtputf8 allows UTF-8 in the address.
func Canonical(addr string, recipient, smtputf8 bool) (string, error) {
	if addr == "" {
		if recipient {
			return "", ErrSyntax
		}
		return "", nil
	}
	if !utf8.ValidString(addr) {
		return "", ErrSyntax
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if recipient && strings.EqualFold(addr, "postmaster") {
			return addr, nil
		}
		return "", ErrSyntax
	}
	local, domain := addr[:at], addr[at+1:]
	if err := checkLocal(local, smtputf8); err != nil {
		return "", err
	}
	d, err := canonicalDomain(domain, smtputf8)
	if err != nil {
		return "", err
	}
	return local + "@" + d, nil
}

// checkLocal accepts what a quoted string may carry (RFC 5321 qtextSMTP and
// quoted-pairSMTP: printable ASCII and space; RFC 6531 adds UTF-8).
func checkLocal(local string, smtputf8 bool) error {
	if local == "" {
		return ErrSyntax
	}
	for _, r := range local {
		switch {
		case r < 0x20 || r == 0x7f:
			return ErrSyntax
		case r >= 0x80 && r <= 0x9f:
			return ErrSyntax
		case r >= utf8.RuneSelf && !smtputf8:
			return ErrNonASCII
		}
	}
	return nil
}

// canonicalDomain checks a domain or address literal and returns its
// canonical spelling.
func canonicalDomain(d string, smtputf8 bool) (string, error) {
	if strings.HasPrefix(d, "[") {
		if !strings.HasSuffix(d, "]") || !validLiteral(d[1:len(d)-1]) {
			return "", ErrSyntax
		}
		return d, nil
	}
	d = strings.TrimSuffix(d, ".")
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		if !smtputf8 {
			return "", ErrNonASCII
		}
		// IDNA2008 registration rules, without UTS #46 mapping: a
		// spelling that only mapping turns into a domain (fullwidth
		// letters, ideographic full stops, ignored characters) is not
		// one. Only ASCII letters are lowercased first: Unicode case
		// folding has lookalikes of its own (KELVIN SIGN becomes k).
		a, err := idna.Registration.ToASCII(asciiLower(d))
		if err != nil {
			return "", ErrSyntax
		}
		d = a
	}
	if !validDomain(d) {
		return "", ErrSyntax
	}
	return d, nil
}

// validDomain checks RFC 5321's Domain: dot-separated labels of letters,
// digits and inner hyphens.
func validDomain(d string) bool {
	if d == "" || len(d) > maxDomain {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validLiteral checks an address literal without its brackets: an IPv4
// address, "IPv6:" and an IPv6 address (RFC 5321 section 4.1.3).
func validLiteral(s string) bool {
	if v6, ok := cutPrefixFold(s, "IPv6:"); ok {
		a, err := netip.ParseAddr(v6)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Path returns addr as it is written between the angle brackets of MAIL
// FROM or RCPT TO: the local part as a dot-string when it is one, else as a
// quoted string with "\" and `"` escaped (RFC 5321 section 4.1.2). addr is
// an address Canonical accepted.
func Path(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if addr == "" {
			return ""
		}
		return quoteLocal(addr)
	}
	return quoteLocal(addr[:at]) + addr[at:]
}

func quoteLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isDotString reports whether s is RFC 5321's Dot-string: atoms of atext
// (RFC 6531 adds UTF-8) joined by single dots.
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= utf8.RuneSelf, c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
