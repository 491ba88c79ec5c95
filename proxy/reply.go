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

// protocolReplies is go-smtp's reply table, taken from filters/reply.go,
// so the server's own replies (its banner, its answers to RSET, QUIT and
// malformed commands) are declared where the gateway's are.
var protocolReplies = &smtp.Replies{
	Greeting:             protocolReply(filters.ReplyGreeting),
	Helo:                 protocolReply(filters.ReplyHelo),
	Ehlo:                 protocolReply(filters.ReplyEhlo),
	HeloSyntax:           protocolReply(filters.ReplyHeloSyntax),
	UseLHLO:              protocolReply(filters.ReplyUseLHLO),
	NotLMTP:              protocolReply(filters.ReplyNotLMTP),
	Noop:                 protocolReply(filters.ReplyOK),
	Reset:                protocolReply(filters.ReplyReset),
	Quit:                 protocolReply(filters.ReplyQuit),
	Vrfy:                 protocolReply(filters.ReplyVrfy),
	NotImplemented:       protocolReply(filters.ReplyNotImplemented),
	UnknownCommand:       protocolReply(filters.ReplyUnknownCommand),
	BadCommand:           protocolReply(filters.ReplyBadCommand),
	EmptyCommand:         protocolReply(filters.ReplyEmptyCommand),
	TooManyErrors:        protocolReply(filters.ReplyProtocolErrors),
	LineTooLong:          protocolReply(filters.ReplyLineTooLong),
	IdleTimeout:          protocolReply(filters.ReplyIdleTimeout),
	ConnectionError:      protocolReply(filters.ReplyConnectionError),
	InternalError:        protocolReply(filters.ReplyServerError),
	Busy:                 protocolReply(filters.ReplyBusy),
	SessionError:         protocolReply(filters.ReplySessionError),
	NeedHelo:             protocolReply(filters.ReplyNeedHelo),
	MailInTransfer:       protocolReply(filters.ReplyMailInTransfer),
	NestedMail:           protocolReply(filters.ReplyNestedMail),
	MailSyntax:           protocolReply(filters.ReplyMailSyntax),
	MailParams:           protocolReply(filters.ReplyMailParams),
	SizeSyntax:           protocolReply(filters.ReplySizeSyntax),
	SizeExceeded:         protocolReply(filters.ReplySizeExceeded),
	UnknownBody:          protocolReply(filters.ReplyUnknownBody),
	UnknownRet:           protocolReply(filters.ReplyUnknownRet),
	MalformedAuthParam:   protocolReply(filters.ReplyMalformedAuthParam),
	MalformedAuthBox:     protocolReply(filters.ReplyMalformedAuthBox),
	UnknownMailParam:     protocolReply(filters.ReplyUnknownMailParam),
	MailOK:               protocolReply(filters.ReplyMailOK),
	ParamNotImplemented:  protocolReply(filters.ReplyParamNotImplemented),
	MalformedParam:       protocolReply(filters.ReplyMalformedParam),
	NeedMail:             protocolReply(filters.ReplyRcptBeforeMail),
	RcptInTransfer:       protocolReply(filters.ReplyRcptInTransfer),
	RcptSyntax:           protocolReply(filters.ReplyRcptSyntax),
	RecipientLimit:       protocolReply(filters.ReplyRecipientLimit),
	RcptParams:           protocolReply(filters.ReplyRcptParams),
	ByBelowMinimum:       protocolReply(filters.ReplyByBelowMinimum),
	MTPriorityRange:      protocolReply(filters.ReplyMTPriorityRange),
	UnknownRcptParam:     protocolReply(filters.ReplyUnknownRcptParam),
	RcptOK:               protocolReply(filters.ReplyRcptOK),
	AuthAlreadyDone:      protocolReply(filters.ReplyAuthAlreadyDone),
	AuthNoMechanism:      protocolReply(filters.ReplyAuthNoMechanism),
	AuthTLSRequired:      protocolReply(filters.ReplyAuthTLSRequired),
	AuthBadBase64:        protocolReply(filters.ReplyAuthBadBase64),
	AuthUnknownMechanism: protocolReply(filters.ReplyAuthUnknownMech),
	AuthError:            protocolReply(filters.ReplyAuthError),
	AuthChallenge:        protocolReply(filters.ReplyAuthChallenge),
	AuthCancelled:        protocolReply(filters.ReplyAuthCancelled),
	AuthOK:               protocolReply(filters.ReplyAuthOK),
	AlreadyTLS:           protocolReply(filters.ReplyAlreadyTLS),
	TLSNotSupported:      protocolReply(filters.ReplyTLSNotSupported),
	StartTLS:             protocolReply(filters.ReplyStartTLS),
	TLSHandshake:         protocolReply(filters.ReplyTLSHandshake),
	DataArgs:             protocolReply(filters.ReplyDataArgs),
	DataInTransfer:       protocolReply(filters.ReplyDataInTransfer),
	DataBinaryMIME:       protocolReply(filters.ReplyDataBinaryMIME),
	NeedRcpt:             protocolReply(filters.ReplyDataBeforeRcpt),
	DataStart:            protocolReply(filters.ReplyDataStart),
	BdatNoSize:           protocolReply(filters.ReplyBdatNoSize),
	BdatTooManyArgs:      protocolReply(filters.ReplyBdatTooManyArgs),
	BdatUnknownArg:       protocolReply(filters.ReplyBdatUnknownArg),
	BdatBadSize:          protocolReply(filters.ReplyBdatBadSize),
	BdatContinue:         protocolReply(filters.ReplyBdatContinue),
	DataOK:               protocolReply(filters.ReplyDataOK),
	DataFailed:           protocolReply(filters.ReplyDataFailed),
}

// protocolReply is r as a go-smtp reply: no enhanced code on the wire
// where r has none (the banner, 334, 354), unlike smtpError's X.0.0.
func protocolReply(r filters.Reply) smtp.Reply {
	ec := smtp.NoEnhancedCode
	if p, ok := r.EnhancedParts(); ok {
		ec = smtp.EnhancedCode(p)
	}
	return smtp.Reply{Code: r.Code, EnhancedCode: ec, Text: r.Text}
}
