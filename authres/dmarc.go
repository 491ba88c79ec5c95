package authres

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// DMARC (RFC 7489): the domain of the From header publishes a policy at
// _dmarc.<domain>, or failing that at _dmarc.<organizational domain>; the
// message passes when SPF or DKIM passed for a domain aligned with it.

// dmarcResult is the outcome of the DMARC evaluation.
type dmarcResult struct {
	value  string // pass, fail, none, temperror, permerror
	from   string // the From domain
	policy dmarc.Policy
	// full is true when the policy applies to every message (no pct, or
	// pct=100); a sampled policy is never enforced by refusing.
	full   bool
	reason string
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

// fromDomain returns the domain of the message's single From address.
func fromDomain(froms []string) (string, error) {
	if len(froms) != 1 {
		return "", fmt.Errorf("%d From fields", len(froms))
	}
	list, err := mail.ParseAddressList(froms[0])
	if err != nil {
		// Fall back to the last @ so a sloppy but readable From still
		// gets its domain's policy applied: spammers would otherwise
		// escape DMARC with a broken From.
		at := strings.LastIndexByte(froms[0], '@')
		if at < 0 {
			return "", fmt.Errorf("header From %q: %w", froms[0], err)
		}
		d := strings.TrimRight(froms[0][at+1:], "> \t")
		if d == "" || strings.ContainsAny(d, " \t<>@,;") {
			return "", fmt.Errorf("header From %q: %w", froms[0], err)
		}
		return strings.ToLower(d), nil
	}
	if len(list) != 1 {
		return "", fmt.Errorf("header From holds %d addresses", len(list))
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	if at < 0 {
		return "", fmt.Errorf("header From %q has no domain", froms[0])
	}
	return strings.ToLower(list[0].Address[at+1:]), nil
}

// errNoPolicy is a domain without a DMARC record.
var errNoPolicy = errors.New("no DMARC record")

// lookupPolicy finds the record for the From domain (RFC 7489 section
// 6.6.3): the domain's own, else the organizational domain's, whose sp=
// then applies.
func lookupPolicy(ctx context.Context, txt txtFunc, domain string) (*dmarc.Record, dmarc.Policy, error) {
	rec, err := fetchRecord(ctx, txt, domain)
	if err == nil {
		return rec, rec.Policy, nil
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
	p := rec.Policy
	if rec.SubdomainPolicy != "" {
		p = rec.SubdomainPolicy
	}
	return rec, p, nil
}

// fetchRecord reads _dmarc.<domain>. Records not starting v=DMARC1 are
// ignored; more than one is as good as none (RFC 7489 section 6.6.3).
func fetchRecord(ctx context.Context, txt txtFunc, domain string) (*dmarc.Record, error) {
	txts, err := txt(ctx, "_dmarc."+domain)
	if err != nil {
		if isNotFound(err) {
			return nil, errNoPolicy
		}
		return nil, fmt.Errorf("dmarc _dmarc.%s: %w", domain, err)
	}
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return nil, errNoPolicy
	case 1:
	default:
		return nil, fmt.Errorf("_dmarc.%s: %d records: %w", domain, len(found), errNoPolicy)
	}
	rec, err := dmarc.Parse(found[0])
	if err != nil {
		return nil, fmt.Errorf("_dmarc.%s: %w", domain, errBadRecord{err})
	}
	return rec, nil
}

// errBadRecord is a published record that does not parse: a permanent
// error of the domain's making.
type errBadRecord struct{ err error }

func (e errBadRecord) Error() string { return e.err.Error() }
func (e errBadRecord) Unwrap() error { return e.err }

// evalDMARC applies the From domain's policy to the SPF and DKIM results.
func evalDMARC(ctx context.Context, txt txtFunc, froms []string, spfRes spfResult, dkimRes []dkimResult) dmarcResult {
	from, err := fromDomain(froms)
	if err != nil {
		return dmarcResult{value: "permerror", reason: err.Error()}
	}
	r := dmarcResult{from: from}
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
	r.full = rec.Percent == nil || *rec.Percent >= 100
	// SPF counts only for the MAIL FROM identity: a HELO-only pass says
	// nothing about the From domain (RFC 7489 section 4.2).
	if spfRes.value == "pass" && spfRes.mailFrom != "" && aligned(spfRes.domain, from, rec.SPFAlignment) {
		r.value = "pass"
		return r
	}
	for _, d := range dkimRes {
		if d.value == "pass" && aligned(d.domain, from, rec.DKIMAlignment) {
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
