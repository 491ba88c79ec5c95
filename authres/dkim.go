package authres

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"mailguard/filters"
)

// DKIM (RFC 6376) verifies the signatures in the message against the keys
// their domains publish at <selector>._domainkey.<domain>.

// maxSignatures bounds the signatures verified in one message: each costs
// a DNS query and a pass over the body.
const maxSignatures = 5

// dkimResult is the outcome for one signature.
type dkimResult struct {
	value  string // pass, fail, neutral, temperror, permerror, policy
	domain string
	auid   string
	reason string
}

// checkDKIM verifies the message's signatures, reading at most maxBytes of
// it. It returns no result for an unsigned message.
func checkDKIM(ctx context.Context, r dnsAdapter, m *filters.Message, maxBytes int64) ([]dkimResult, error) {
	if !m.Header.Has("DKIM-Signature") {
		return nil, nil
	}
	if maxBytes > 0 && m.Size > maxBytes {
		// Verifying would mean reading more than we allow; say so rather
		// than calling the signature broken.
		return []dkimResult{{value: "policy", reason: fmt.Sprintf("message over %d bytes not verified", maxBytes)}}, nil
	}
	rc, err := m.Open()
	if err != nil {
		return nil, fmt.Errorf("dkim: open message: %w", err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if maxBytes > 0 {
		src = io.LimitReader(rc, maxBytes)
	}
	verifs, err := dkim.VerifyWithOptions(src, &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			return r.LookupTXT(ctx, name)
		},
		MaxVerifications: maxSignatures,
	})
	if err != nil && err != dkim.ErrTooManySignatures {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	out := make([]dkimResult, 0, len(verifs))
	for _, v := range verifs {
		d := dkimResult{domain: v.Domain, auid: v.Identifier}
		switch {
		case v.Err == nil:
			d.value = "pass"
		case dkim.IsTempFail(v.Err):
			d.value, d.reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			d.value, d.reason = "permerror", v.Err.Error()
		default:
			d.value, d.reason = "fail", v.Err.Error()
		}
		d.reason = strings.TrimPrefix(d.reason, "dkim: ")
		out = append(out, d)
	}
	return out, nil
}
