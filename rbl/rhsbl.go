package rbl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"mailguard/filters"
)

// RHSBL checks the HELO name and the sender's domain against domain lists,
// like Postfix's reject_rhsbl_helo and reject_rhsbl_sender. Lookups start
// at HELO and at MAIL FROM and are awaited at RCPT TO. The null sender, and
// HELO names that are address literals or not domain names, are not asked.
type RHSBL struct {
	cfg Config
}

// NewRHSBL returns the filter.
func NewRHSBL(cfg Config) *RHSBL {
	cfg.defaults()
	return &RHSBL{cfg: cfg}
}

// Name implements filters.Filter.
func (h *RHSBL) Name() string { return "rhsbl" }

// CheckHelo starts the lookups of the HELO name.
func (h *RHSBL) CheckHelo(ctx context.Context, c *filters.ClientConn) filters.Verdict {
	if skip(c) {
		return filters.Pass()
	}
	if d := domainOf(c.Helo); d != "" {
		for i := range h.cfg.Lists {
			h.future(ctx, c, &h.cfg.Lists[i], "helo", d)
		}
	}
	return filters.Pass()
}

// CheckMail starts the lookups of the sender's domain.
func (h *RHSBL) CheckMail(ctx context.Context, t *filters.Transaction) filters.Verdict {
	if skip(t.Conn) {
		return filters.Pass()
	}
	if d := senderDomain(t.MailFrom); d != "" {
		for i := range h.cfg.Lists {
			h.future(ctx, t.Conn, &h.cfg.Lists[i], "from", d)
		}
	}
	return filters.Pass()
}

func (h *RHSBL) future(ctx context.Context, c *filters.ClientConn, l *List, what, domain string) *future {
	v := c.GetOrSet("rhsbl:"+l.Zone+":"+what+":"+domain, func() any {
		log := c.Log
		if log == nil {
			log = h.cfg.Log
		}
		return start(ctx, h.cfg.Resolver, l, domain+"."+strings.TrimSuffix(l.Zone, ".")+".", h.cfg.Timeout, log)
	})
	return v.(*future)
}

// CheckRcpt awaits the lookups: the HELO name first, then the sender's
// domain, list by list in the order configured.
func (h *RHSBL) CheckRcpt(ctx context.Context, t *filters.Transaction, _ string) filters.Verdict {
	c := t.Conn
	if skip(c) || t.AllowListed() {
		return filters.Pass()
	}
	_, scored := t.Get("rhsbl:scored")
	items := []struct {
		what, domain, class, prefix string
	}{
		{"helo", domainOf(c.Helo), "Helo command", "RHSBL_HELO_"},
		{"from", senderDomain(t.MailFrom), "Sender address", "RHSBL_FROM_"},
	}
	var v filters.Verdict
	for _, it := range items {
		if it.domain == "" {
			continue
		}
		for i := range h.cfg.Lists {
			l := &h.cfg.Lists[i]
			if !l.Reject && scored {
				continue
			}
			res := h.future(ctx, c, l, it.what, it.domain).wait(ctx)
			if res.Err != nil && ctx.Err() != nil {
				t.Log.Warn("rhsbl answer not in time; counted as not listed", "filter", "rhsbl", "zone", l.Zone, it.what, it.domain, "err", res.Err)
				continue
			}
			if !res.Listed {
				continue
			}
			if l.Reject {
				// Postfix's words: "Service unavailable; Sender address
				// [example.com] blocked using dbl.example.org".
				r := filters.ReplyRHSBL.Format(it.class+" ["+it.domain+"]", l.Zone).Because(res.Reason).WithQueueID(t.QueueID)
				t.Log.Debug("domain listed", "filter", "rhsbl", "zone", l.Zone, it.what, it.domain, "answer", res.Answer.String(), "reply", r.String())
				rv := filters.Refuse(r, fmt.Sprintf("%s %s listed in %s (%s)", it.what, it.domain, l.Zone, res.Answer))
				rv.Test = TestName(it.prefix, l.Zone)
				return rv
			}
			test := TestName(it.prefix, l.Zone)
			t.Log.Debug("score: domain listed", "filter", "rhsbl", "zone", l.Zone, it.what, it.domain, "answer", res.Answer.String(), "test", test, "points", l.Weight)
			v.Scores = append(v.Scores, filters.Score{Test: test, Points: l.Weight})
		}
	}
	if !scored {
		t.Set("rhsbl:scored", true)
	}
	return v
}

func skip(c *filters.ClientConn) bool { return c.AllowListed() || c.AuthUser != "" }

// domainOf returns name as a lowercased domain to look up, or "" for an
// address literal or anything that is not a domain name with a dot.
func domainOf(name string) string {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	if name == "" || strings.HasPrefix(name, "[") || !strings.Contains(name, ".") || len(name) > 200 {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return ""
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return ""
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return ""
			}
		}
	}
	return name
}

// senderDomain returns the domain of a reverse path, "" for the null sender.
func senderDomain(from string) string {
	i := strings.LastIndexByte(from, '@')
	if i < 0 {
		return ""
	}
	return domainOf(from[i+1:])
}
