package verify

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"mailguard/envelope"
)

// address is an envelope address taken apart for policy decisions.
type address struct {
	// Display is the address as named in replies: without angle brackets.
	Display string
	// Local is the local part, unquoted.
	Local string
	// Domain is lowercased, without its trailing dot; "" when absent.
	Domain string
	// Trick says why the address is a relay trick or unroutable form that
	// no client may use; "" when it is a plain address.
	Trick string
}

// parseAddress takes apart a forward or reverse path. It accepts both the
// raw form of the SMTP command (angle brackets, a source route, a quoted
// local part: what a milter is given) and the form go-smtp hands over
// (brackets, route and quotes removed), so the tricks are caught in both.
//
// The tricks are the ways a sender can hide a second destination inside an
// address whose final domain looks local (Postfix's allow_untrusted_routing
// and the swap_bangpath/percent hacks, RFC 5321 section 3.6):
// a source route "@a:u@b" (RFC 5321 section 4.1.1.3 and appendix C), "%"
// in the local part, "!" bang paths, and "@" inside a quoted local part. A
// domain literal "u@[192.0.2.1]" names no domain we could be responsible for.
func parseAddress(s string) address {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	a := address{Display: s}
	if strings.HasPrefix(s, "@") {
		a.Trick = "source route"
		if i := strings.IndexByte(s, ':'); i >= 0 {
			s = s[i+1:]
		} else {
			s = s[1:]
		}
	}
	var rest string
	if strings.HasPrefix(s, `"`) {
		local, after, ok := unquote(s)
		if !ok {
			a.setTrick("unterminated quoted local part")
			return a
		}
		a.Local, rest = local, after
		if rest != "" && rest[0] != '@' {
			a.setTrick("text after quoted local part")
			return a
		}
	} else {
		// The last "@" separates the domain: go-smtp unquotes
		// "u@other"@dom to u@other@dom, whose local part keeps the "@".
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			a.Local, rest = s[:i], s[i:]
		} else {
			a.Local = s
		}
	}
	switch {
	case strings.ContainsRune(a.Local, '@'):
		a.setTrick("@ in the local part")
	case strings.ContainsRune(a.Local, '%'):
		a.setTrick("% hack in the local part")
	case strings.ContainsRune(a.Local, '!'):
		a.setTrick("bang path in the local part")
	}
	if rest == "" {
		return a
	}
	d := rest[1:]
	if strings.HasPrefix(d, "[") {
		a.setTrick("domain literal")
		return a
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") || strings.ContainsAny(d, "@%!:[] \t\"") {
		a.setTrick("malformed domain")
		return a
	}
	// Strictly: a spelling that only UTS #46 mapping makes a local domain
	// (fullwidth letters, U+3002 for a dot, a soft hyphen) is none, or the
	// backend would get an address other than the one judged local.
	dom, ok := envelope.Domain(d)
	if !ok {
		a.setTrick("malformed domain")
		return a
	}
	a.Domain = dom
	return a
}

func (a *address) setTrick(why string) {
	if a.Trick == "" {
		a.Trick = why
	}
}

// unquote reads the quoted string that opens s (RFC 5321 Quoted-string) and
// returns its content and what follows the closing quote.
func unquote(s string) (content, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i == len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// key is the address as looked up in tables: the whole address lowercased,
// as Postfix lowercases lookup keys, so "User@Example.org" and
// "user@example.org" are the same entry.
func (a address) key() string {
	return strings.ToLower(a.Local) + "@" + a.Domain
}

// normalizeDomain lowercases a domain and drops its trailing dot. An
// internationalised domain (SMTPUTF8) becomes its ASCII form, as DNS knows
// it (RFC 5890), so "bücher.example" and "xn--bcher-kva.example" are the
// same domain everywhere; one that has no ASCII form is "".
func normalizeDomain(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if !utf8.ValidString(d) {
		return ""
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return ""
			}
			return strings.ToLower(a)
		}
	}
	return strings.ToLower(d)
}
