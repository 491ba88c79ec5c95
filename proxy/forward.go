package proxy

import (
	"strings"

	"mailguard/filters"
	"mailguard/relay"
)

// backendMail tells the backend who the client is (Config.BackendForward),
// then says MAIL FROM. The backend refusing XFORWARD or XCLIENT is logged
// and the transaction goes on without it: the message is never lost over
// it. An error means the connection failed.
func (s *session) backendMail(t *filters.Transaction, from string, mo relay.MailOptions) (filters.Reply, error) {
	fc := s.cc.fc
	o := relay.Origin{
		Addr: fc.ClientIP, Port: fc.ClientPort,
		// Postfix takes a name with its root dot for a bad one.
		Name:    strings.TrimSuffix(fc.ClientName, "."),
		Helo:    fc.Helo,
		ESMTP:   fc.ESMTP,
		Login:   fc.AuthUser,
		QueueID: t.QueueID,
	}
	mode := s.cc.cfg.BackendForward
	r, err := s.be.Forward(s.ctx(), mode, o)
	if err != nil {
		return filters.Reply{}, err
	}
	if !r.IsZero() && r.Code/100 != 2 {
		t.Log.Warn("backend refused the client's identity; relaying without it", "backend_forward", string(mode), "backend_reply", r.String())
	}
	return s.be.Mail(s.ctx(), from, mo)
}
