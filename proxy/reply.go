package proxy

import (
	"strings"

	"github.com/emersion/go-smtp"

	"mailguard/filters"
)

// smtpError turns a Reply into the error go-smtp sends as it is. Every
// error a session method returns goes through here: go-smtp would send any
// other error's text verbatim.
func smtpError(r filters.Reply) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCodeNotSet}
	room := maxReplyLine - len("xyz \r\n")
	if p, ok := r.EnhancedParts(); ok {
		e.EnhancedCode = smtp.EnhancedCode(p)
		room -= len(r.Enhanced) + 1
	} else {
		room -= len("x.y.z ")
	}
	e.Message = shorten(oneLine(r.Text), room)
	return e
}

// maxReplyLine is RFC 5321's limit on a reply line, CRLF included (section
// 4.5.3.1.5).
const maxReplyLine = 512

// replyTail is how much of a shortened text's end is kept: the queue id
// ends every refusal.
const replyTail = 64

// shorten cuts the middle out of a text over n octets (an address the
// client made long, a backend's long words), keeping its start and its end.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := s[:n-replyTail-3]
	tail := s[len(s)-replyTail:]
	return strings.ToValidUTF8(head, "") + "..." + strings.ToValidUTF8(tail, "")
}

// replyLine renders a reply for writing straight to a socket.
func replyLine(r filters.Reply) string {
	return r.String() + "\r\n"
}

// oneLine keeps a reply on one line: a backend's multi-line reply is joined,
// so the queue id ends the only line there is.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// internal logs err and returns the reply that stands for it.
func internal(log interface {
	Error(string, ...any)
}, id string, what string, err error) filters.Reply {
	log.Error(what, "err", err)
	return filters.ReplyInternal.WithQueueID(id)
}

// backendReply maps what the backend said to what the client hears: a 5xx
// is passed on; a 4xx becomes 451 4.4.1 (SPEC) with the backend's words as
// the reason, so the client still learns "mailbox full".
func backendReply(r filters.Reply) filters.Reply {
	if r.Permanent() {
		return r
	}
	return filters.ReplyBackendUnavailable.Because("backend said: " + oneLine(r.String()))
}
