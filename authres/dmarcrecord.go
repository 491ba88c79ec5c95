package authres

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
)

// record is the part of a DMARC record (RFC 7489 section 6.3) that decides
// what happens to a message: the policies, the alignment modes and the
// sampling rate. Reporting tags are read only to apply section 6.6.3 step 6.
type record struct {
	policy          dmarc.Policy
	subdomainPolicy dmarc.Policy // "" when sp= is absent or invalid: p= applies
	dkimAlignment   dmarc.AlignmentMode
	spfAlignment    dmarc.AlignmentMode
	percent         int // 0-100; 100 when pct= is absent or invalid
}

// errNotDMARC is a TXT record that is not a DMARC record at all: its first
// tag is not v=DMARC1. Such records are discarded before counting (RFC
// 7489 section 6.6.3).
var errNotDMARC = errors.New("not a DMARC record")

// errNoValidPolicy is a DMARC record without a usable p= and without a
// valid rua= to fall back on: no DMARC processing applies (section 6.6.3).
var errNoValidPolicy = errors.New("no valid p= tag")

// parseRecord reads a DMARC record leniently, as RFC 7489 section 6.3
// asks: tag names and the keyword values (policies, alignment modes) are
// case-insensitive, as ABNF quoted strings are, while "DMARC1" is not (it
// is written %x44.4d.41.52.43.31); white space around "=" and ";" is
// allowed; unknown tags and pieces that are not tag=value (a typo such as
// "fo:1") are ignored; a tag whose value is invalid falls back to its
// default; of a repeated tag the first counts, the repeat being a syntax
// error in the remainder that is to be ignored.
//
// A record whose p= is missing or invalid acts as p=none when it has a
// syntactically valid rua= (section 6.6.3 step 6.1), and is errNoValidPolicy
// otherwise. An invalid sp= is ignored so that p= applies to subdomains:
// a typo there must not switch the domain's own policy off.
//
// It returns errNotDMARC when the first tag is not v=DMARC1.
func parseRecord(txt string) (*record, error) {
	parts := strings.Split(txt, ";")
	name, value, ok := tag(parts[0])
	if !ok || name != "v" || value != "DMARC1" {
		return nil, errNotDMARC
	}
	r := &record{dkimAlignment: dmarc.AlignmentRelaxed, spfAlignment: dmarc.AlignmentRelaxed, percent: 100}
	seen := map[string]bool{}
	hasReportURI := false
	for _, p := range parts[1:] {
		name, value, ok := tag(p)
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "p":
			r.policy = parsePolicy(value)
		case "sp":
			r.subdomainPolicy = parsePolicy(value)
		case "adkim":
			r.dkimAlignment = parseAlignment(value)
		case "aspf":
			r.spfAlignment = parseAlignment(value)
		case "pct":
			// 1*3DIGIT, 0 to 100.
			if n, err := strconv.Atoi(value); err == nil && len(value) <= 3 && digits(value) && n <= 100 {
				r.percent = n
			}
		case "rua":
			hasReportURI = validReportURIs(value)
		}
	}
	if r.policy == "" {
		if !hasReportURI {
			return nil, errNoValidPolicy
		}
		r.policy = dmarc.PolicyNone
	}
	return r, nil
}

// tag splits "name=value" with optional white space around both, the
// name lower-cased. ok is false for a piece that is not a tag (no "=", an
// empty or non-alphanumeric name).
func tag(s string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(s, "=")
	if !ok {
		return "", "", false
	}
	name = strings.ToLower(strings.Trim(name, " \t\r\n"))
	if name == "" {
		return "", "", false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "", "", false
		}
	}
	return name, strings.Trim(value, " \t\r\n"), true
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func parsePolicy(v string) dmarc.Policy {
	switch strings.ToLower(v) {
	case "none":
		return dmarc.PolicyNone
	case "quarantine":
		return dmarc.PolicyQuarantine
	case "reject":
		return dmarc.PolicyReject
	}
	return ""
}

func parseAlignment(v string) dmarc.AlignmentMode {
	if strings.EqualFold(v, "s") {
		return dmarc.AlignmentStrict
	}
	return dmarc.AlignmentRelaxed
}

// validReportURIs reports whether a rua= value holds at least one
// syntactically valid URI (RFC 7489 section 6.4 dmarc-uri: a URI with a
// scheme, optionally followed by "!" and a size limit).
func validReportURIs(v string) bool {
	for _, u := range strings.Split(v, ",") {
		u = strings.Trim(u, " \t")
		if i := strings.LastIndexByte(u, '!'); i >= 0 {
			u = u[:i]
		}
		p, err := url.Parse(u)
		if err == nil && p.Scheme != "" && (p.Opaque != "" || p.Host != "" || p.Path != "") {
			return true
		}
	}
	return false
}

// strictness orders policies: a failing message gets the strictest policy
// among its From domains (RFC 7489 section 6.6.1).
func strictness(p dmarc.Policy) int {
	switch p {
	case dmarc.PolicyNone:
		return 1
	case dmarc.PolicyQuarantine:
		return 2
	case dmarc.PolicyReject:
		return 3
	}
	return 0
}
