package authres

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
)

// SPF (RFC 7208) checks the client IP against the policy of the MAIL FROM
// domain, or of the HELO name for the null sender (section 2.4).

// spfResult is the outcome of the SPF check.
type spfResult struct {
	value string // none, neutral, pass, fail, softfail, temperror, permerror
	// mailFrom is the MAIL FROM checked, "" when the HELO identity was.
	mailFrom string
	helo     string
	// domain is the identity's domain, for DMARC alignment.
	domain string
	err    error
}

// spfJob is an SPF check started at MAIL FROM and awaited at the end of
// DATA, so its DNS queries overlap the rest of the transaction.
type spfJob struct {
	done chan struct{}
	res  spfResult
}

func (j *spfJob) wait(ctx context.Context) (spfResult, bool) {
	select {
	case <-j.done:
		return j.res, true
	case <-ctx.Done():
		return spfResult{}, false
	}
}

// checkSPF runs the check for the client's IP, HELO name and sender.
func checkSPF(ctx context.Context, r dnsAdapter, clientIP netip.Addr, helo, mailFrom string) spfResult {
	helo = strings.TrimSuffix(helo, ".")
	res := spfResult{helo: helo, mailFrom: mailFrom}
	sender := mailFrom
	if sender == "" {
		// The null sender is checked as postmaster@HELO.
		sender = "postmaster@" + helo
	}
	at := strings.LastIndexByte(sender, '@')
	res.domain = strings.ToLower(sender[at+1:])
	if !plausibleDomain(res.domain) {
		// An address literal HELO or a local-only sender has no policy
		// to look up.
		res.value = string(spf.None)
		return res
	}
	if !clientIP.IsValid() {
		res.value = string(spf.None)
		return res
	}
	ip := net.IP(clientIP.Unmap().AsSlice())
	v, err := spf.CheckHostWithSender(ip, helo, sender, spf.WithContext(ctx), spf.WithResolver(r))
	res.value = string(v)
	if v == spf.TempError || v == spf.PermError {
		res.err = err
	}
	return res
}

// plausibleDomain rejects what cannot be a DNS domain name before it is
// asked about: address literals, single labels, empty labels.
func plausibleDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, "[") || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}
