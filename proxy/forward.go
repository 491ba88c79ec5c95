package proxy

import (
	"errors"
	"strings"
	"time"

	"mailguard/filters"
	"mailguard/relay"
)

// backendMail tells the backend who the client is (Config.BackendForward;
// an authenticated client's transaction goes with XFORWARD even under
// xclient, see relay.Origin.Mode), then says MAIL FROM. The backend
// refusing XFORWARD or XCLIENT is logged and the transaction goes on
// without it: the message is never lost over it. An error means the
// connection failed.
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
	if m := o.Mode(mode); m != mode {
		t.Log.Info("authenticated client handed to the backend with XFORWARD, not XCLIENT",
			"backend_forward", string(mode), "user", o.Login)
	}
	start := time.Now()
	sent, r, err := s.be.ForwardMail(s.ctx(), mode, o, from, mo)
	if errors.Is(err, relay.ErrOriginChanged) {
		// The client said HELO again or authenticated since the backend
		// connection was handed to it.
		s.dropBackend()
		if err = s.dialBackend(); err == nil {
			start = time.Now()
			sent, r, err = s.be.ForwardMail(s.ctx(), mode, o, from, mo)
		}
	}
	observeBackend("MAIL", start, err)
	for _, f := range sent {
		if f.Refused() {
			t.Log.Warn("backend refused the client's identity; relaying without it",
				"backend_forward", string(mode), "backend_command", f.Verb, "backend_reply", f.Reply.String())
		}
	}
	if err == nil && r.Code/100 != 2 && s.be.Usable() {
		// Postfix keeps a refused MAIL's SIZE= until RSET and refuses the
		// next MAIL FROM with it, whoever's it is: start clean.
		if rerr := s.be.Reset(s.ctx()); rerr != nil {
			t.Log.Warn("backend connection lost after it refused the sender", "err", rerr)
		}
	}
	return r, err
}
