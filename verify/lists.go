package verify

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"mailguard/filters"
)

// ListsConfig holds the operator's block and allow lists.
type ListsConfig struct {
	// BlockSenders and AllowSenders are addresses ("user@example.com") or
	// domains ("@example.com", which does not include its subdomains).
	BlockSenders, AllowSenders []string
	// BlockNetworks and AllowNetworks are CIDRs or single addresses.
	BlockNetworks, AllowNetworks []string
}

// Lists applies the block and allow lists, like Postfix's
// check_client_access and check_sender_access with REJECT and OK entries.
//
// A block entry wins over an allow entry. Allow-listed clients and senders
// skip DNSBL and scoring. allow.senders matches MAIL FROM, which any client
// can forge: list only senders whose mail is also authenticated some other
// way, or prefer allow.networks.
type Lists struct {
	blockSenders, allowSenders   senderList
	blockNetworks, allowNetworks []netip.Prefix
}

// NewLists builds the lists.
func NewLists(cfg ListsConfig) (*Lists, error) {
	var l Lists
	var err error
	if l.blockSenders, err = parseSenderList(cfg.BlockSenders); err != nil {
		return nil, fmt.Errorf("block.senders: %w", err)
	}
	if l.allowSenders, err = parseSenderList(cfg.AllowSenders); err != nil {
		return nil, fmt.Errorf("allow.senders: %w", err)
	}
	if l.blockNetworks, err = parseNetworks(cfg.BlockNetworks); err != nil {
		return nil, fmt.Errorf("block.networks: %w", err)
	}
	if l.allowNetworks, err = parseNetworks(cfg.AllowNetworks); err != nil {
		return nil, fmt.Errorf("allow.networks: %w", err)
	}
	return &l, nil
}

// Name implements filters.Filter.
func (l *Lists) Name() string { return "lists" }

// CheckConnect refuses blocked networks and marks allowed ones. The front
// end answers a connect-time refusal at RCPT TO, as Postfix does with
// smtpd_delay_reject, so the client learns which recipient failed.
func (l *Lists) CheckConnect(_ context.Context, c *filters.ClientConn) filters.Verdict {
	if inNetworks(l.blockNetworks, c.ClientIP) {
		return filters.Refuse(filters.ReplyBlockedClient, "client in block.networks")
	}
	if inNetworks(l.allowNetworks, c.ClientIP) {
		c.SetAllowListed(true)
	}
	return filters.Pass()
}

// CheckMail refuses blocked senders and marks allowed ones. The null
// sender matches no entry: bounces must get through.
func (l *Lists) CheckMail(_ context.Context, t *filters.Transaction) filters.Verdict {
	if t.MailFrom == "" {
		return filters.Pass()
	}
	a := parseAddress(t.MailFrom)
	if l.blockSenders.match(a) {
		return filters.Refuse(filters.ReplyBlockedSender.About(a.Display), "sender in block.senders")
	}
	if l.allowSenders.match(a) {
		t.SetAllowListed(true)
	}
	return filters.Pass()
}

// senderList is a set of lowercased addresses and domains.
type senderList struct {
	addrs, domains map[string]bool
}

func parseSenderList(list []string) (senderList, error) {
	l := senderList{addrs: map[string]bool{}, domains: map[string]bool{}}
	for _, s := range list {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "@"):
			d := normalizeDomain(s[1:])
			if d == "" {
				return l, fmt.Errorf("%q: empty domain", s)
			}
			l.domains[d] = true
		default:
			a := parseAddress(s)
			if a.Domain == "" || a.Local == "" {
				return l, fmt.Errorf("%q is neither an address nor an @domain", s)
			}
			l.addrs[a.key()] = true
		}
	}
	return l, nil
}

func (l senderList) match(a address) bool {
	if a.Domain == "" {
		return false
	}
	return l.domains[a.Domain] || l.addrs[a.key()]
}
