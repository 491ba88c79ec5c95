package smtp

import (
	"fmt"
	"reflect"
)

// Reply is one reply the server writes: a basic code (RFC 5321 section
// 4.2), an enhanced status code (RFC 3463; NoEnhancedCode for none) and a
// text. Where a Replies field says so, the text is a fmt format.
type Reply struct {
	Code         int
	EnhancedCode EnhancedCode
	Text         string
}

// format renders the reply's text with args, if any.
func (r Reply) format(args ...interface{}) string {
	if len(args) == 0 {
		return r.Text
	}
	return fmt.Sprintf(r.Text, args...)
}

// err is the reply as an error a session method could have returned.
func (r Reply) err() *SMTPError {
	return &SMTPError{Code: r.Code, EnhancedCode: r.EnhancedCode, Message: r.Text}
}

// Replies are the replies the server writes of its own accord: the
// greeting, the answers to commands the server handles itself, and its
// refusals of commands out of sequence, malformed or not implemented. A
// session's own replies (the errors its methods return) are not here.
//
// Server.Replies sets them; a field left zero takes its value from
// DefaultReplies. Texts marked "format" are fmt formats with the arguments
// named.
type Replies struct {
	// Greeting is the banner; format: the server's domain, then "ESMTP"
	// or "LMTP".
	Greeting Reply
	// Helo answers HELO; format: the client's name.
	Helo Reply
	// Ehlo is the first line of the answer to EHLO and LHLO, the
	// capabilities follow; format: the client's name.
	Ehlo Reply
	// HeloSyntax refuses HELO or EHLO without a name.
	HeloSyntax Reply
	UseLHLO    Reply
	NotLMTP    Reply

	Noop  Reply
	Reset Reply
	Quit  Reply
	Vrfy  Reply
	// NotImplemented answers SEND, SOML, SAML, EXPN, HELP and TURN;
	// format: the command.
	NotImplemented Reply
	// UnknownCommand; format: the command, control characters replaced.
	UnknownCommand Reply
	// BadCommand is a command line that cannot be split into a verb and
	// its argument; EmptyCommand an empty verb.
	BadCommand   Reply
	EmptyCommand Reply
	// TooManyErrors ends the session after MaxProtocolErrors.
	TooManyErrors   Reply
	LineTooLong     Reply
	IdleTimeout     Reply
	ConnectionError Reply
	// InternalError answers a command whose handling panicked.
	InternalError Reply
	// Busy is what Conn.Reject writes before closing.
	Busy Reply
	// SessionError answers HELO, MAIL or RCPT when the backend returns an
	// error that is not an *SMTPError; format: the error's text.
	SessionError Reply

	NeedHelo       Reply
	MailInTransfer Reply
	// NestedMail refuses MAIL inside a transaction already begun (RFC
	// 5321 section 4.1.4: MAIL, RCPT, DATA in that order; RSET ends it).
	NestedMail         Reply
	MailSyntax         Reply
	MailParams         Reply
	SizeSyntax         Reply
	SizeExceeded       Reply
	UnknownBody        Reply
	UnknownRet         Reply
	MalformedAuthParam Reply
	MalformedAuthBox   Reply
	UnknownMailParam   Reply
	MailOK             Reply
	// ParamNotImplemented refuses an ESMTP parameter the server does not
	// offer; format: the parameter (or the extension) name.
	ParamNotImplemented Reply
	// MalformedParam; format: the parameter name.
	MalformedParam Reply

	NeedMail       Reply
	RcptInTransfer Reply
	RcptSyntax     Reply
	// RecipientLimit; format: MaxRecipients.
	RecipientLimit   Reply
	RcptParams       Reply
	ByBelowMinimum   Reply
	MTPriorityRange  Reply
	UnknownRcptParam Reply
	RcptOK           Reply

	AuthAlreadyDone      Reply
	AuthNoMechanism      Reply
	AuthTLSRequired      Reply
	AuthBadBase64        Reply
	AuthUnknownMechanism Reply
	// AuthError answers an AUTH exchange whose mechanism returned an error
	// that is not an *SMTPError; format: the error's text.
	AuthError Reply
	// AuthChallenge; format: the base64 challenge.
	AuthChallenge Reply
	AuthCancelled Reply
	AuthOK        Reply

	AlreadyTLS      Reply
	TLSNotSupported Reply
	StartTLS        Reply
	TLSHandshake    Reply

	DataArgs        Reply
	DataInTransfer  Reply
	DataBinaryMIME  Reply
	NeedRcpt        Reply
	DataStart       Reply
	BdatNoSize      Reply
	BdatTooManyArgs Reply
	BdatUnknownArg  Reply
	BdatBadSize     Reply
	BdatContinue    Reply
	// DataOK answers a message the session accepted without a reply of
	// its own; DataFailed one it refused with an error that is not an
	// *SMTPError (format: the error's text).
	DataOK     Reply
	DataFailed Reply
}

// DefaultReplies returns the replies of go-smtp's release, word for word.
func DefaultReplies() Replies {
	return Replies{
		Greeting:        Reply{220, NoEnhancedCode, "%s %s Service Ready"},
		Helo:            Reply{250, EnhancedCode{2, 0, 0}, "Hello %s"},
		Ehlo:            Reply{250, NoEnhancedCode, "Hello %s"},
		HeloSyntax:      Reply{501, EnhancedCode{5, 5, 2}, "Domain/address argument required for HELO"},
		UseLHLO:         Reply{500, EnhancedCode{5, 5, 1}, "This is a LMTP server, use LHLO"},
		NotLMTP:         Reply{500, EnhancedCode{5, 5, 1}, "This is not a LMTP server"},
		Noop:            Reply{250, EnhancedCode{2, 0, 0}, "Ok"},
		Reset:           Reply{250, EnhancedCode{2, 0, 0}, "Session reset"},
		Quit:            Reply{221, EnhancedCode{2, 0, 0}, "Bye"},
		Vrfy:            Reply{252, EnhancedCode{2, 5, 0}, "Cannot VRFY user, but will accept message"},
		NotImplemented:  Reply{502, EnhancedCode{5, 5, 1}, "%s command not implemented"},
		UnknownCommand:  Reply{500, EnhancedCode{5, 5, 2}, "Syntax errors, %s command unrecognized"},
		BadCommand:      Reply{501, EnhancedCode{5, 5, 2}, "Bad command"},
		EmptyCommand:    Reply{500, EnhancedCode{5, 5, 2}, "Error: bad syntax"},
		TooManyErrors:   Reply{500, EnhancedCode{5, 5, 1}, "Too many errors. Quiting now"},
		LineTooLong:     Reply{500, EnhancedCode{5, 4, 0}, "Too long line, closing connection"},
		IdleTimeout:     Reply{421, EnhancedCode{4, 4, 2}, "Idle timeout, bye bye"},
		ConnectionError: Reply{421, EnhancedCode{4, 4, 0}, "Connection error, sorry"},
		InternalError:   Reply{421, EnhancedCode{4, 0, 0}, "Internal server error"},
		Busy:            Reply{421, EnhancedCode{4, 4, 5}, "Too busy. Try again later."},
		SessionError:    Reply{451, EnhancedCode{4, 0, 0}, "%s"},

		NeedHelo:            Reply{502, EnhancedCode{5, 5, 1}, "Please introduce yourself first."},
		MailInTransfer:      Reply{502, EnhancedCode{5, 5, 1}, "MAIL not allowed during message transfer"},
		NestedMail:          Reply{503, EnhancedCode{5, 5, 1}, "Error: nested MAIL command"},
		MailSyntax:          Reply{501, EnhancedCode{5, 5, 2}, "Was expecting MAIL arg syntax of FROM:<address>"},
		MailParams:          Reply{501, EnhancedCode{5, 5, 4}, "Unable to parse MAIL ESMTP parameters"},
		SizeSyntax:          Reply{501, EnhancedCode{5, 5, 4}, "Unable to parse SIZE as an integer"},
		SizeExceeded:        Reply{552, EnhancedCode{5, 3, 4}, "Max message size exceeded"},
		UnknownBody:         Reply{501, EnhancedCode{5, 5, 4}, "Unknown BODY value"},
		UnknownRet:          Reply{501, EnhancedCode{5, 5, 4}, "Unknown RET value"},
		MalformedAuthParam:  Reply{500, EnhancedCode{5, 5, 4}, "Malformed AUTH parameter value"},
		MalformedAuthBox:    Reply{500, EnhancedCode{5, 5, 4}, "Malformed AUTH parameter mailbox"},
		UnknownMailParam:    Reply{500, EnhancedCode{5, 5, 4}, "Unknown MAIL FROM argument"},
		MailOK:              Reply{250, EnhancedCode{2, 1, 0}, "Ok"},
		ParamNotImplemented: Reply{504, EnhancedCode{5, 5, 4}, "%s is not implemented"},
		MalformedParam:      Reply{501, EnhancedCode{5, 5, 4}, "Malformed %s parameter value"},

		NeedMail:         Reply{502, EnhancedCode{5, 5, 1}, "Missing MAIL FROM command."},
		RcptInTransfer:   Reply{502, EnhancedCode{5, 5, 1}, "RCPT not allowed during message transfer"},
		RcptSyntax:       Reply{501, EnhancedCode{5, 5, 2}, "Was expecting RCPT arg syntax of TO:<address>"},
		RecipientLimit:   Reply{452, EnhancedCode{4, 5, 3}, "Maximum limit of %v recipients reached"},
		RcptParams:       Reply{501, EnhancedCode{5, 5, 4}, "Unable to parse RCPT ESMTP parameters"},
		ByBelowMinimum:   Reply{501, EnhancedCode{5, 5, 4}, "BY parameter is below server minimum"},
		MTPriorityRange:  Reply{501, EnhancedCode{5, 5, 4}, "MT-PRIORITY is outside valid range"},
		UnknownRcptParam: Reply{500, EnhancedCode{5, 5, 4}, "Unknown RCPT TO argument"},
		RcptOK:           Reply{250, EnhancedCode{2, 1, 5}, "Ok"},

		AuthAlreadyDone:      Reply{503, EnhancedCode{5, 5, 1}, "Already authenticated"},
		AuthNoMechanism:      Reply{502, EnhancedCode{5, 5, 4}, "Missing parameter"},
		AuthTLSRequired:      Reply{523, EnhancedCode{5, 7, 10}, "TLS is required"},
		AuthBadBase64:        Reply{454, EnhancedCode{4, 7, 0}, "Invalid base64 data"},
		AuthUnknownMechanism: Reply{504, EnhancedCode{5, 7, 4}, "Unsupported authentication mechanism"},
		AuthError:            Reply{454, EnhancedCode{4, 7, 0}, "%s"},
		AuthChallenge:        Reply{334, NoEnhancedCode, "%s"},
		AuthCancelled:        Reply{501, EnhancedCode{5, 0, 0}, "Negotiation cancelled"},
		AuthOK:               Reply{235, EnhancedCode{2, 0, 0}, "Authentication succeeded"},

		AlreadyTLS:      Reply{502, EnhancedCode{5, 5, 1}, "Already running in TLS"},
		TLSNotSupported: Reply{502, EnhancedCode{5, 5, 1}, "TLS not supported"},
		StartTLS:        Reply{220, EnhancedCode{2, 0, 0}, "Ready to start TLS"},
		TLSHandshake:    Reply{550, EnhancedCode{5, 0, 0}, "Handshake error"},

		DataArgs:        Reply{501, EnhancedCode{5, 5, 4}, "DATA command should not have any arguments"},
		DataInTransfer:  Reply{502, EnhancedCode{5, 5, 1}, "DATA not allowed during message transfer"},
		DataBinaryMIME:  Reply{502, EnhancedCode{5, 5, 1}, "DATA not allowed for BINARYMIME messages"},
		NeedRcpt:        Reply{502, EnhancedCode{5, 5, 1}, "Missing RCPT TO command."},
		DataStart:       Reply{354, NoEnhancedCode, "Go ahead. End your data with <CR><LF>.<CR><LF>"},
		BdatNoSize:      Reply{501, EnhancedCode{5, 5, 4}, "Missing chunk size argument"},
		BdatTooManyArgs: Reply{501, EnhancedCode{5, 5, 4}, "Too many arguments"},
		BdatUnknownArg:  Reply{501, EnhancedCode{5, 5, 4}, "Unknown BDAT argument"},
		BdatBadSize:     Reply{501, EnhancedCode{5, 5, 4}, "Malformed size argument"},
		BdatContinue:    Reply{250, EnhancedCode{2, 0, 0}, "Continue"},
		DataOK:          Reply{250, EnhancedCode{2, 0, 0}, "OK: queued"},
		DataFailed:      Reply{554, EnhancedCode{5, 0, 0}, "Error: transaction failed: %s"},
	}
}

// withDefaults returns r with each zero field taken from DefaultReplies.
func (r *Replies) withDefaults() *Replies {
	d := DefaultReplies()
	if r == nil {
		return &d
	}
	out := *r
	v, dv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(d)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			v.Field(i).Set(dv.Field(i))
		}
	}
	return &out
}

// lmtpRecipientText is an LMTP per-recipient status (RFC 2033 section
// 4.2): the recipient, then the reply's text.
func lmtpRecipientText(rcpt, text string) string {
	return "<" + rcpt + "> " + text
}
