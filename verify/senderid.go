package verify

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"

	"mailguard/filters"
)

// Senders maps each authenticated user to the addresses and @domains it
// may use as its From address (Postfix's smtpd_sender_login_maps, the other
// way round). A user not listed owns its login when that is an address.
type Senders map[string][]string

// ParseSenders reads a senders file: one user a line, "user: addr, @domain
// ..." (commas or spaces between entries), "#" comments. Errors name the
// line.
func ParseSenders(data []byte) (Senders, error) {
	s := Senders{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		user, list, ok := strings.Cut(line, ":")
		user = strings.TrimSpace(user)
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want \"user: address or @domain, more\"", n)
		}
		for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !strings.Contains(e, "@") || strings.Count(e, "@") > 1 || strings.HasSuffix(e, "@") {
				return nil, fmt.Errorf("line %d: %q is not an address or @domain", n, e)
			}
			s[user] = append(s[user], strings.ToLower(e))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Owns reports whether user may send as addr.
func (s Senders) Owns(user, addr string) bool {
	addr = strings.ToLower(addr)
	list, ok := s[user]
	if !ok {
		return strings.Contains(user, "@") && strings.EqualFold(user, addr)
	}
	for _, e := range list {
		if e == addr || strings.HasPrefix(e, "@") && strings.HasSuffix(addr, e) {
			return true
		}
	}
	return false
}

// SenderID adds a Sender: header naming the authenticated user when a
// message's From: is not an address the user owns (RFC 5322 section
// 3.6.2: the agent responsible for sending, when it is not the author), or
// refuses the message when Reject is set.
type SenderID struct {
	Senders Senders
	Reject  bool
}

// Name implements filters.Filter.
func (*SenderID) Name() string { return "sender_login" }

// CheckMessage implements filters.MessageChecker.
func (s *SenderID) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	user := t.Conn.AuthUser
	if user == "" {
		return filters.Pass()
	}
	from, err := mail.ParseAddressList(m.Header.Get("From"))
	owned := err == nil && len(from) > 0
	for _, a := range from {
		owned = owned && s.Senders.Owns(user, a.Address)
	}
	if owned {
		return filters.Pass()
	}
	if s.Reject {
		v := filters.Refuse(filters.ReplySenderLoginMismatch, fmt.Sprintf("From: %q not owned by user %s", m.Header.Get("From"), user))
		v.Test = "sender_login_mismatch"
		return v
	}
	if m.Header.Has("Sender") {
		if sa, err := mail.ParseAddress(m.Header.Get("Sender")); err == nil && s.Senders.Owns(user, sa.Address) {
			return filters.Pass()
		}
	}
	t.AddHeader("Sender", s.senderOf(user))
	t.Log.Info("Sender: added", "user", user, "header_from", m.Header.Get("From"))
	return filters.Pass()
}

// senderOf is the address a Sender: names for user: its login when that
// is an address, else its first address in the senders file, else the
// login as it is.
func (s *SenderID) senderOf(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	for _, e := range s.Senders[user] {
		if !strings.HasPrefix(e, "@") {
			return e
		}
	}
	return user
}
