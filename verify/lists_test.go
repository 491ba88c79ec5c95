package verify

import (
	"context"
	"testing"

	"mailguard/filters"
)

func TestLists(t *testing.T) {
	l, err := NewLists(ListsConfig{
		BlockSenders:  []string{"Spammer@Bad.test", "@evil.test", "both@good.test"},
		AllowSenders:  []string{"@good.test", "friend@partner.test"},
		BlockNetworks: []string{"203.0.113.0/24", "192.0.2.66"},
		AllowNetworks: []string{"198.51.100.0/24", "192.0.2.0/24"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, client, from string
		connect            filters.Reply // zero: pass
		mail               filters.Reply
		connAllowed        bool
		txAllowed          bool
	}{
		{name: "nobody special", client: "100.64.0.1", from: "user@example.com"},
		{name: "blocked network", client: "203.0.113.9", connect: filters.ReplyBlockedClient},
		{name: "blocked host inside an allowed network", client: "192.0.2.66", connect: filters.ReplyBlockedClient},
		{name: "allowed network", client: "198.51.100.4", from: "user@example.com", connAllowed: true, txAllowed: true},
		{name: "allowed v4-mapped", client: "::ffff:198.51.100.4", from: "user@example.com", connAllowed: true, txAllowed: true},
		{name: "blocked address any case", client: "100.64.0.1", from: "SPAMMER@bad.TEST", mail: filters.ReplyBlockedSender.About("SPAMMER@bad.TEST")},
		{name: "other address in that domain", client: "100.64.0.1", from: "ok@bad.test"},
		{name: "blocked domain", client: "100.64.0.1", from: "x@Evil.Test", mail: filters.ReplyBlockedSender.About("x@Evil.Test")},
		{name: "subdomain of a blocked domain", client: "100.64.0.1", from: "x@sub.evil.test"},
		{name: "allowed domain", client: "100.64.0.1", from: "x@good.test", txAllowed: true},
		{name: "allowed address", client: "100.64.0.1", from: "Friend@partner.test", txAllowed: true},
		{name: "block wins over allow", client: "100.64.0.1", from: "both@good.test", mail: filters.ReplyBlockedSender.About("both@good.test")},
		{name: "null sender never matches", client: "100.64.0.1", from: ""},
		{name: "blocked sender from allowed network", client: "198.51.100.4", from: "x@evil.test", connAllowed: true, mail: filters.ReplyBlockedSender.About("x@evil.test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, tt.client)
			v := l.CheckConnect(context.Background(), c)
			if v.Reply != tt.connect {
				t.Fatalf("CheckConnect = %q, want %q", v.Reply, tt.connect)
			}
			if !tt.connect.IsZero() {
				if v.Action != filters.Reject {
					t.Fatalf("action %v, want reject", v.Action)
				}
				return
			}
			if c.AllowListed() != tt.connAllowed {
				t.Fatalf("conn allow-listed %v, want %v", c.AllowListed(), tt.connAllowed)
			}
			tr := filters.NewTransaction(c, "Q1")
			tr.MailFrom = tt.from
			v = l.CheckMail(context.Background(), tr)
			if v.Reply != tt.mail {
				t.Fatalf("CheckMail = %q, want %q", v.Reply, tt.mail)
			}
			if tt.mail.IsZero() && tr.AllowListed() != tt.txAllowed {
				t.Fatalf("transaction allow-listed %v, want %v", tr.AllowListed(), tt.txAllowed)
			}
		})
	}
}
