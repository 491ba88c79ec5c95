package rbl

import (
	"context"
	"fmt"

	"mailguard/filters"
	"mailguard/resolver"
)

// DNSBL checks the client address against IP lists, like Postfix's
// reject_rbl_client, or scores it, like SpamAssassin's RCVD_IN_* tests.
// Clients in allow.networks, allow-listed senders and authenticated clients
// are never checked.
type DNSBL struct {
	cfg Config
}

// NewDNSBL returns the filter; it has nothing to do without lists.
func NewDNSBL(cfg Config) *DNSBL {
	cfg.defaults()
	return &DNSBL{cfg: cfg}
}

// Name implements filters.Filter.
func (d *DNSBL) Name() string { return "dnsbl" }

// CheckConnect starts the queries of every list in parallel and returns at
// once; CheckRcpt awaits them.
func (d *DNSBL) CheckConnect(ctx context.Context, c *filters.ClientConn) filters.Verdict {
	if d.skip(c) {
		return filters.Pass()
	}
	for i := range d.cfg.Lists {
		d.future(ctx, c, &d.cfg.Lists[i])
	}
	return filters.Pass()
}

func (d *DNSBL) skip(c *filters.ClientConn) bool {
	return !c.ClientIP.IsValid() || c.AllowListed() || c.AuthUser != ""
}

// future returns the lookup of l for the client, starting it when the
// connect phase did not (a chain reloaded mid-connection, a milter that
// skipped connect).
func (d *DNSBL) future(ctx context.Context, c *filters.ClientConn, l *List) *future {
	v := c.GetOrSet("dnsbl:"+l.Zone, func() any {
		log := c.Log
		if log == nil {
			log = d.cfg.Log
		}
		return start(ctx, d.cfg.Resolver, l, resolver.ReverseName(c.ClientIP, l.Zone), d.cfg.Timeout, log)
	})
	return v.(*future)
}

// CheckRcpt awaits the lists, in the order configured: the first reject
// list that lists the client refuses the recipient with 554 5.7.1; score
// lists add their weight once per transaction.
func (d *DNSBL) CheckRcpt(ctx context.Context, t *filters.Transaction, _ string) filters.Verdict {
	c := t.Conn
	if d.skip(c) || t.AllowListed() {
		return filters.Pass()
	}
	_, scored := t.Get("dnsbl:scored")
	var v filters.Verdict
	ip := c.ClientIP.Unmap().String()
	for i := range d.cfg.Lists {
		l := &d.cfg.Lists[i]
		if !l.Reject && scored {
			continue
		}
		res := d.future(ctx, c, l).wait(ctx)
		if res.Err != nil && ctx.Err() != nil {
			t.Log.Warn("dnsbl answer not in time; counted as not listed", "filter", "dnsbl", "zone", l.Zone, "err", res.Err)
			continue
		}
		if !res.Listed {
			continue
		}
		if l.Reject {
			r := filters.ReplyDNSBL.Format(ip, l.Zone).Because(res.Reason).WithQueueID(t.QueueID)
			// The proxy writes the decision's line; this is the detail.
			t.Log.Debug("client listed", "filter", "dnsbl", "zone", l.Zone, "answer", res.Answer.String(), "reply", r.String())
			rv := filters.Refuse(r, fmt.Sprintf("client %s listed in %s (%s)", ip, l.Zone, res.Answer))
			rv.Test = TestName("RCVD_IN_", l.Zone)
			return rv
		}
		test := TestName("RCVD_IN_", l.Zone)
		t.Log.Debug("score: client listed", "filter", "dnsbl", "zone", l.Zone, "answer", res.Answer.String(), "test", test, "points", l.Weight)
		v.Scores = append(v.Scores, filters.Score{Test: test, Points: l.Weight})
	}
	if !scored {
		t.Set("dnsbl:scored", true)
	}
	return v
}
