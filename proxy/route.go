package proxy

import (
	"bytes"
	"strings"
	"sync"
)

// go-smtp drops a source route ("RCPT TO:<@a,@b:user@c>") before the
// session sees the address, while SPEC refuses source routes as a relay
// trick. routeSniffer watches the command stream for RCPT TO paths that
// start with a route and remembers them by the mailbox go-smtp will hand
// over, so the session can give the chain the path as the client sent it.
//
// It sees the clear-text stream only: after STARTTLS the route is still
// dropped (and never reaches the backend), but it is not refused.
type routeSniffer struct {
	mu      sync.Mutex
	partial []byte
	routed  map[string][]string // mailbox -> raw paths, oldest first
}

// maxSniffLine bounds the partial line kept between reads; command lines
// are limited far below it, and longer lines (message text) are of no
// interest.
const maxSniffLine = 4096

func (r *routeSniffer) feed(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(r.partial)+len(b) <= maxSniffLine {
				r.partial = append(r.partial, b...)
			} else {
				r.partial = r.partial[:0]
			}
			return
		}
		line := b[:i]
		if len(r.partial) > 0 {
			if len(r.partial)+len(line) <= maxSniffLine {
				line = append(r.partial, line...)
			} else {
				line = nil
			}
			r.partial = r.partial[:0]
		}
		r.line(line)
		b = b[i+1:]
	}
}

func (r *routeSniffer) line(l []byte) {
	if len(l) < 10 || (l[0] != 'R' && l[0] != 'r') {
		return
	}
	if !bytes.EqualFold(l[:8], []byte("RCPT TO:")) {
		return
	}
	arg := strings.TrimSpace(string(bytes.TrimRight(l[8:], "\r")))
	if !strings.HasPrefix(arg, "<@") {
		return
	}
	end := strings.IndexByte(arg, '>')
	if end < 0 {
		return
	}
	path := arg[1:end]
	colon := strings.IndexByte(path, ':')
	if colon < 0 {
		return
	}
	mailbox := path[colon+1:]
	if r.routed == nil {
		r.routed = map[string][]string{}
	}
	if len(r.routed) > 1000 {
		return // bounded whatever the client sends
	}
	r.routed[mailbox] = append(r.routed[mailbox], path)
}

// take returns the raw path the client gave for mailbox when it had a
// source route, consuming it.
func (r *routeSniffer) take(mailbox string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	paths := r.routed[mailbox]
	if len(paths) == 0 {
		return "", false
	}
	p := paths[0]
	if len(paths) == 1 {
		delete(r.routed, mailbox)
	} else {
		r.routed[mailbox] = paths[1:]
	}
	return p, true
}
