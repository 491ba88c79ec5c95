package authres

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// DMARC (RFC 7489): the domain of the From header publishes a policy at
// _dmarc.<domain>, or failing that at _dmarc.<organizational domain>; the
// message passes when SPF or DKIM passed for a domain aligned with it.

// dmarcResult is the outcome of the DMARC evaluation of one From domain,
// or of the message: the result of its deciding domain (see evalDMARC).
type dmarcResult struct {
	value  string // pass, fail, none, temperror, permerror
	from   string // the From domain
	policy dmarc.Policy
	// full is true when the policy applies to every message (no pct, or
	// pct=100); a sampled policy is never enforced by refusing.
	full   bool
	reason string
	// each is the result of every From domain, in order, when the
	// message has more than one (RFC 7489 section 6.6.1).
	each []dmarcResult
}

// orgDomain is the organizational domain (RFC 7489 section 3.2): the
// public suffix plus one label. A name that is itself a public suffix, or
// that the list cannot judge, is its own organizational domain.
func orgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// aligned compares an authenticated domain with the From domain: equal for
// strict alignment, the same organizational domain for relaxed.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a := strings.ToLower(strings.TrimSuffix(authDomain, "."))
	f := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return orgDomain(a) == orgDomain(f)
}

// fromDomains returns every distinct domain of the message's From
// addresses, lower-cased, in A-labels, in order. A From field may hold
// several addresses (RFC 5322 mailbox-list, and groups as RFC 6854 allows),
// and a malformed message several From fields: RFC 7489 section 6.6.1 asks
// for each domain to be evaluated, so none is left out.
func fromDomains(froms []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		d = normDomain(d)
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, f := range froms {
		list, err := mail.ParseAddressList(f)
		if err != nil {
			// A sloppy but readable From still gets its domains'
			// policies applied: spammers would otherwise escape DMARC
			// with a broken From. Every "@domain" counts; one that is
			// really part of a display name only makes the check
			// stricter.
			for _, d := range scanDomains(f) {
				add(d)
			}
			continue
		}
		for _, a := range list {
			if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
				add(a.Address[at+1:])
			}
		}
	}
	if len(out) == 0 {
		if len(froms) == 0 {
			return nil, errors.New("no From field")
		}
		return nil, fmt.Errorf("header From %q has no domain", strings.Join(froms, ", "))
	}
	return out, nil
}

// scanDomains finds the domain after every "@" of a From value that does
// not parse: the longest run of characters a domain name may hold.
func scanDomains(v string) []string {
	var out []string
	for i := 0; i < len(v); i++ {
		if v[i] != '@' {
			continue
		}
		j := i + 1
		for j < len(v) && (isDomainByte(v[j]) || v[j] >= 0x80) {
			j++
		}
		if d := strings.Trim(v[i+1:j], ".-"); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func isDomainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

// normDomain lower-cases a domain, drops a trailing dot and turns
// U-labels into A-labels, so that one domain written two ways is
// evaluated once and looked up as DNS knows it.
func normDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				return a
			}
			return d
		}
	}
	return d
}

// errNoPolicy is a domain without a DMARC record.
var errNoPolicy = errors.New("no DMARC record")

// lookupPolicy finds the record for the From domain (RFC 7489 section
// 6.6.3): the domain's own, else the organizational domain's, whose sp=
// then applies.
func lookupPolicy(ctx context.Context, txt txtFunc, domain string) (*record, dmarc.Policy, error) {
	rec, err := fetchRecord(ctx, txt, domain)
	if err == nil {
		return rec, rec.policy, nil
	}
	if !errors.Is(err, errNoPolicy) {
		return nil, "", err
	}
	org := orgDomain(domain)
	if org == domain {
		return nil, "", err
	}
	rec, err = fetchRecord(ctx, txt, org)
	if err != nil {
		return nil, "", err
	}
	p := rec.policy
	if rec.subdomainPolicy != "" {
		p = rec.subdomainPolicy
	}
	return rec, p, nil
}

// fetchRecord reads _dmarc.<domain>. TXT records whose first tag is not
// v=DMARC1 are discarded; more than one DMARC record is as good as none
// (RFC 7489 section 6.6.3).
func fetchRecord(ctx context.Context, txt txtFunc, domain string) (*record, error) {
	txts, err := txt(ctx, "_dmarc."+domain)
	if err != nil {
		if isNotFound(err) {
			return nil, errNoPolicy
		}
		return nil, fmt.Errorf("dmarc _dmarc.%s: %w", domain, err)
	}
	var (
		found  int
		rec    *record
		recErr error
	)
	for _, t := range txts {
		r, err := parseRecord(t)
		if errors.Is(err, errNotDMARC) {
			continue
		}
		found++
		rec, recErr = r, err
	}
	switch {
	case found == 0:
		return nil, errNoPolicy
	case found > 1:
		return nil, fmt.Errorf("_dmarc.%s: %d records: %w", domain, found, errNoPolicy)
	case recErr != nil:
		return nil, fmt.Errorf("_dmarc.%s: %w", domain, errBadRecord{recErr})
	}
	return rec, nil
}

// errBadRecord is a published record that cannot be applied: a permanent
// error of the domain's making.
type errBadRecord struct{ err error }

func (e errBadRecord) Error() string { return e.err.Error() }
func (e errBadRecord) Unwrap() error { return e.err }

// evalDMARC applies the policy of every From domain to the SPF and DKIM
// results. With several domains the message's result is that of the
// domain whose failure weighs most: the strictest policy among those that
// fail (RFC 7489 section 6.6.1), an enforced one before a sampled one;
// failing none, a temporary error before a permanent one before a pass.
func evalDMARC(ctx context.Context, txt txtFunc, froms []string, spfRes spfResult, dkimRes []dkimResult) dmarcResult {
	domains, err := fromDomains(froms)
	if err != nil {
		return dmarcResult{value: "permerror", reason: err.Error()}
	}
	var each []dmarcResult
	for _, d := range domains {
		each = append(each, evalDomain(ctx, txt, d, spfRes, dkimRes))
	}
	best := each[0]
	for _, r := range each[1:] {
		if weight(r) > weight(best) {
			best = r
		}
	}
	if len(each) > 1 {
		best.each = each
	}
	return best
}

// weight ranks one domain's result for evalDMARC.
func weight(r dmarcResult) int {
	switch r.value {
	case "fail":
		w := 100 + 10*strictness(r.policy)
		if r.full {
			w++
		}
		return w
	case "temperror":
		return 50
	case "permerror":
		return 40
	case "pass":
		return 30
	}
	return 0
}

// evalDomain applies one From domain's policy.
func evalDomain(ctx context.Context, txt txtFunc, from string, spfRes spfResult, dkimRes []dkimResult) dmarcResult {
	r := dmarcResult{from: from}
	if strings.HasPrefix(from, "[") {
		// An address literal has no DNS name to publish a policy under.
		r.value = "none"
		return r
	}
	rec, policy, err := lookupPolicy(ctx, txt, from)
	switch {
	case errors.Is(err, errNoPolicy):
		r.value = "none"
		return r
	case errors.As(err, new(errBadRecord)):
		r.value, r.reason = "permerror", err.Error()
		return r
	case err != nil:
		r.value, r.reason = "temperror", err.Error()
		return r
	}
	r.policy = policy
	r.full = rec.percent >= 100
	// SPF counts only for the MAIL FROM identity: a HELO-only pass says
	// nothing about the From domain (RFC 7489 section 4.2).
	if spfRes.value == "pass" && spfRes.mailFrom != "" && aligned(spfRes.domain, from, rec.spfAlignment) {
		r.value = "pass"
		return r
	}
	for _, d := range dkimRes {
		if d.value == "pass" && aligned(d.domain, from, rec.dkimAlignment) {
			r.value = "pass"
			return r
		}
	}
	// A failure that a DNS hiccup may have caused is not held against
	// the sender: a retry could pass.
	if spfRes.value == "temperror" {
		r.value, r.reason = "temperror", "SPF temperror"
		return r
	}
	for _, d := range dkimRes {
		if d.value == "temperror" {
			r.value, r.reason = "temperror", "DKIM temperror"
			return r
		}
	}
	r.value = "fail"
	return r
}
