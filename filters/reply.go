// Package filters is the one chain of checks that every front end drives.
//
// The SMTP proxy and the milter turn their protocol's events into calls on a
// Chain: Connect, Helo, Mail, Rcpt and Data, about a ClientConn (the client's
// connection as the chain sees it) and a Transaction (one message). Each
// check implements only the phases it cares about and answers with a
// Verdict; the Policy turns the scores into tag, quarantine or reject. The
// package also holds what every check shares: the spooled Message and its
// parsed Header, the queue id, and the checks of the message itself (header
// forgeries, malformed structure, the MIME walk, GTUBE).
//
// Every reply the gateway can send is a Reply value declared in reply.go,
// the SMTP server's own replies included (package proxy hands them to
// go-smtp as its reply table), so the wire behaviour of the gateway can be
// read off one place; testdata/replies.golden lists them.
package filters

import (
	"fmt"
	"strings"
)

// Reply is an SMTP reply: a basic code (RFC 5321 section 4.2), an enhanced
// status code (RFC 3463) and a human-readable text.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

// The replies of the gateway. Texts follow Postfix's wording where Postfix has
// one, because operators grep their logs for it.
var (
	ReplyOK                  = Reply{250, "2.0.0", "Ok"}
	ReplyRelayDenied         = Reply{554, "5.7.1", "Relay access denied"}
	ReplyBlockedSender       = Reply{554, "5.7.1", "Sender address rejected: Access denied"}
	ReplyBlockedClient       = Reply{554, "5.7.1", "Client host rejected: Access denied"}
	ReplyDNSBL               = Reply{554, "5.7.1", "Service unavailable; Client host [%s] blocked using %s"}
	ReplyRHSBL               = Reply{554, "5.7.1", "Service unavailable; %s blocked using %s"}
	ReplySenderUnknownDomain = Reply{550, "5.1.8", "Sender address rejected: Domain not found"}
	ReplySenderNullMX        = Reply{550, "5.7.27", "Sender address rejected: Domain does not accept mail (null MX)"}
	ReplySenderTempfail      = Reply{450, "4.1.8", "Sender address rejected: Domain not found"}
	ReplySenderUnverified    = Reply{550, "5.1.7", "Sender address rejected: undeliverable address"}
	ReplySenderUnverifiedTmp = Reply{450, "4.1.7", "Sender address rejected: unverified address"}
	ReplyUnknownRecipient    = Reply{550, "5.1.1", "Recipient address rejected: User unknown in local recipient table"}
	ReplyRecipientTempfail   = Reply{450, "4.1.1", "Recipient address rejected: unverified address: backend unavailable"}
	// ReplyRecipientUndeliverable is the backend's refusal of a callout
	// probe; Because adds what the backend said.
	ReplyRecipientUndeliverable = Reply{550, "5.1.1", "Recipient address rejected: undeliverable address"}
	ReplyMalformed              = Reply{550, "5.6.0", "Message rejected: %s"}
	ReplyMessageTooBig          = Reply{552, "5.3.4", "Message size exceeds fixed limit"}
	ReplyTooManyRecipients      = Reply{452, "4.5.3", "Too many recipients"}
	ReplySpam                   = Reply{550, "5.7.1", "Message rejected as spam: %s"}
	ReplyPolicyReject           = Reply{550, "5.7.1", "Message rejected: %s"}
	ReplyBackendUnavailable     = Reply{451, "4.4.1", "Backend temporarily unavailable, try again later"}
	ReplyInternal               = Reply{451, "4.3.0", "Internal error, try again later"}
	ReplyTooManyConnections     = Reply{421, "4.7.0", "Too many connections, try again later"}
	ReplyTooManyFromClient      = Reply{421, "4.7.0", "Too many connections from your host, try again later"}
	ReplyShuttingDown           = Reply{421, "4.3.2", "Service shutting down, try again later"}
	// ReplyShutdownCut answers a transaction still in progress at the
	// shutdown deadline.
	ReplyShutdownCut = Reply{451, "4.3.2", "Service shutting down; transaction abandoned, try again later"}
	ReplyTimeout     = Reply{421, "4.4.2", "Timeout exceeded"}
	// ReplyDataTooSlow ends a session whose message text came slower than
	// limits.min_data_rate (Postfix's smtpd_min_data_rate).
	ReplyDataTooSlow = Reply{421, "4.4.2", "Error: timeout exceeded, message data too slow"}
	// Abuse resistance (package proxy's admission, pregreet, error and
	// rate limits; Postfix's postscreen, anvil and smtpd wording).
	ReplyIdleClosed      = Reply{421, "4.7.0", "Server busy, idle session closed, try again later"}
	ReplyTooManyErrors   = Reply{421, "4.7.0", "Error: too many errors"}
	ReplyPregreet        = Reply{554, "5.5.1", "Protocol error"}
	ReplyConnectionRate  = Reply{421, "4.7.0", "Error: too many connections from your host, try again later"}
	ReplyMessageRate     = Reply{450, "4.7.1", "Error: too many messages from your host, try again later"}
	ReplyRecipientRate   = Reply{450, "4.7.1", "Error: too many recipients from your host, try again later"}
	ReplyAuthFailureRate = Reply{421, "4.7.0", "Error: too many AUTH failures from your host, try again later"}
	// ReplyGreylisted is postgrey's wording, which operators grep for.
	ReplyGreylisted = Reply{451, "4.7.1", "Recipient address rejected: Greylisted, try again later"}
	// ReplySenderLoginMismatch is Postfix's reject_sender_login_mismatch.
	ReplySenderLoginMismatch = Reply{553, "5.7.1", "Sender address rejected: not owned by the authenticated user"}
	// Envelope addresses RFC 5321 or RFC 6531 forbid (package envelope).
	ReplyBadSenderSyntax    = Reply{501, "5.1.7", "Bad sender address syntax"}
	ReplyBadRecipientSyntax = Reply{501, "5.1.3", "Bad recipient address syntax"}
	ReplyNonASCIIAddress    = Reply{553, "5.6.7", "Non-ASCII address without SMTPUTF8"}
	ReplyQuarantined        = Reply{250, "2.0.0", "Ok: held for review"}
	ReplyURIBL              = Reply{554, "5.7.1", "Message rejected: body links to %s, blocked using %s"}
	ReplyAttachment         = Reply{554, "5.7.1", "Message rejected: attachment %s %s"}
	ReplyVirus              = Reply{554, "5.7.0", "Message rejected: virus found: %s"}
	ReplyVirusScanFailed    = Reply{451, "4.7.1", "Message could not be scanned for viruses, try again later"}
	// ReplyQueued accepts a relayed message; its text is formatted with
	// the queue id.
	ReplyQueued = Reply{250, "2.0.0", "Ok: queued as %s"}
	// Commands out of sequence (RFC 5321 section 4.1.4).
	ReplyNeedMail = Reply{503, "5.5.1", "Error: need MAIL command"}
	ReplyNeedRcpt = Reply{503, "5.5.1", "Error: need RCPT command"}
	// AUTH (RFC 4954): before STARTTLS, and a response that is not valid
	// base64 or not of the mechanism's form.
	ReplyEncryptionRequired = Reply{538, "5.7.11", "Encryption required for requested authentication mechanism"}
	ReplyBadAuthData        = Reply{501, "5.5.2", "Malformed authentication data"}
	ReplyAuthFailed         = Reply{535, "5.7.8", "Authentication failed"}
	ReplyAuthUnsupported    = Reply{502, "5.7.0", "Authentication not supported"}
	// ReplyGreetingFirstLine opens the banner of a client taking the
	// pregreet test, as "220-"; ReplyGreeting ends it.
	ReplyGreetingFirstLine = Reply{220, "", "%s ESMTP"}

	// The SMTP server's own replies: the banner, the answers to commands
	// it handles itself, and its refusals of commands out of sequence,
	// malformed or not implemented. Package proxy gives them to go-smtp's
	// server as its reply table (smtp.Replies, whose field comments name
	// the format arguments); the texts are go-smtp's. NOOP is ReplyOK.
	ReplyGreeting            = Reply{220, "", "%s %s Service Ready"}
	ReplyHelo                = Reply{250, "2.0.0", "Hello %s"}
	ReplyEhlo                = Reply{250, "", "Hello %s"}
	ReplyHeloSyntax          = Reply{501, "5.5.2", "Domain/address argument required for HELO"}
	ReplyUseLHLO             = Reply{500, "5.5.1", "This is a LMTP server, use LHLO"}
	ReplyNotLMTP             = Reply{500, "5.5.1", "This is not a LMTP server"}
	ReplyReset               = Reply{250, "2.0.0", "Session reset"}
	ReplyQuit                = Reply{221, "2.0.0", "Bye"}
	ReplyVrfy                = Reply{252, "2.5.0", "Cannot VRFY user, but will accept message"}
	ReplyNotImplemented      = Reply{502, "5.5.1", "%s command not implemented"}
	ReplyUnknownCommand      = Reply{500, "5.5.2", "Syntax errors, %s command unrecognized"}
	ReplyBadCommand          = Reply{501, "5.5.2", "Bad command"}
	ReplyEmptyCommand        = Reply{500, "5.5.2", "Error: bad syntax"}
	ReplyProtocolErrors      = Reply{500, "5.5.1", "Too many errors. Quiting now"}
	ReplyLineTooLong         = Reply{500, "5.4.0", "Too long line, closing connection"}
	ReplyIdleTimeout         = Reply{421, "4.4.2", "Idle timeout, bye bye"}
	ReplyConnectionError     = Reply{421, "4.4.0", "Connection error, sorry"}
	ReplyServerError         = Reply{421, "4.0.0", "Internal server error"}
	ReplyBusy                = Reply{421, "4.4.5", "Too busy. Try again later."}
	ReplySessionError        = Reply{451, "4.0.0", "%s"}
	ReplyNeedHelo            = Reply{502, "5.5.1", "Please introduce yourself first."}
	ReplyMailInTransfer      = Reply{502, "5.5.1", "MAIL not allowed during message transfer"}
	ReplyNestedMail          = Reply{503, "5.5.1", "Error: nested MAIL command"}
	ReplyMailSyntax          = Reply{501, "5.5.2", "Was expecting MAIL arg syntax of FROM:<address>"}
	ReplyMailParams          = Reply{501, "5.5.4", "Unable to parse MAIL ESMTP parameters"}
	ReplySizeSyntax          = Reply{501, "5.5.4", "Unable to parse SIZE as an integer"}
	ReplySizeExceeded        = Reply{552, "5.3.4", "Max message size exceeded"}
	ReplyUnknownBody         = Reply{501, "5.5.4", "Unknown BODY value"}
	ReplyUnknownRet          = Reply{501, "5.5.4", "Unknown RET value"}
	ReplyMalformedAuthParam  = Reply{500, "5.5.4", "Malformed AUTH parameter value"}
	ReplyMalformedAuthBox    = Reply{500, "5.5.4", "Malformed AUTH parameter mailbox"}
	ReplyUnknownMailParam    = Reply{500, "5.5.4", "Unknown MAIL FROM argument"}
	ReplyMailOK              = Reply{250, "2.1.0", "Ok"}
	ReplyParamNotImplemented = Reply{504, "5.5.4", "%s is not implemented"}
	ReplyMalformedParam      = Reply{501, "5.5.4", "Malformed %s parameter value"}
	ReplyRcptBeforeMail      = Reply{502, "5.5.1", "Missing MAIL FROM command."}
	ReplyRcptInTransfer      = Reply{502, "5.5.1", "RCPT not allowed during message transfer"}
	ReplyRcptSyntax          = Reply{501, "5.5.2", "Was expecting RCPT arg syntax of TO:<address>"}
	ReplyRecipientLimit      = Reply{452, "4.5.3", "Maximum limit of %v recipients reached"}
	ReplyRcptParams          = Reply{501, "5.5.4", "Unable to parse RCPT ESMTP parameters"}
	ReplyByBelowMinimum      = Reply{501, "5.5.4", "BY parameter is below server minimum"}
	ReplyMTPriorityRange     = Reply{501, "5.5.4", "MT-PRIORITY is outside valid range"}
	ReplyUnknownRcptParam    = Reply{500, "5.5.4", "Unknown RCPT TO argument"}
	ReplyRcptOK              = Reply{250, "2.1.5", "Ok"}
	ReplyAuthAlreadyDone     = Reply{503, "5.5.1", "Already authenticated"}
	ReplyAuthNoMechanism     = Reply{502, "5.5.4", "Missing parameter"}
	ReplyAuthTLSRequired     = Reply{523, "5.7.10", "TLS is required"}
	ReplyAuthBadBase64       = Reply{454, "4.7.0", "Invalid base64 data"}
	ReplyAuthUnknownMech     = Reply{504, "5.7.4", "Unsupported authentication mechanism"}
	ReplyAuthError           = Reply{454, "4.7.0", "%s"}
	ReplyAuthChallenge       = Reply{334, "", "%s"}
	ReplyAuthCancelled       = Reply{501, "5.0.0", "Negotiation cancelled"}
	ReplyAuthOK              = Reply{235, "2.0.0", "Authentication succeeded"}
	ReplyAlreadyTLS          = Reply{502, "5.5.1", "Already running in TLS"}
	ReplyTLSNotSupported     = Reply{502, "5.5.1", "TLS not supported"}
	ReplyStartTLS            = Reply{220, "2.0.0", "Ready to start TLS"}
	ReplyTLSHandshake        = Reply{550, "5.0.0", "Handshake error"}
	ReplyDataArgs            = Reply{501, "5.5.4", "DATA command should not have any arguments"}
	ReplyDataInTransfer      = Reply{502, "5.5.1", "DATA not allowed during message transfer"}
	ReplyDataBinaryMIME      = Reply{502, "5.5.1", "DATA not allowed for BINARYMIME messages"}
	ReplyDataBeforeRcpt      = Reply{502, "5.5.1", "Missing RCPT TO command."}
	ReplyDataStart           = Reply{354, "", "Go ahead. End your data with <CR><LF>.<CR><LF>"}
	ReplyBdatNoSize          = Reply{501, "5.5.4", "Missing chunk size argument"}
	ReplyBdatTooManyArgs     = Reply{501, "5.5.4", "Too many arguments"}
	ReplyBdatUnknownArg      = Reply{501, "5.5.4", "Unknown BDAT argument"}
	ReplyBdatBadSize         = Reply{501, "5.5.4", "Malformed size argument"}
	ReplyBdatContinue        = Reply{250, "2.0.0", "Continue"}
	ReplyDataOK              = Reply{250, "2.0.0", "OK: queued"}
	ReplyDataFailed          = Reply{554, "5.0.0", "Error: transaction failed: %s"}
)

// Format returns r with its text formatted with args; r.Text is the format.
func (r Reply) Format(args ...any) Reply {
	r.Text = fmt.Sprintf(r.Text, args...)
	return r
}

// About prefixes the text with the address it concerns, as Postfix does:
// "<user@example.org>: Relay access denied".
func (r Reply) About(addr string) Reply {
	r.Text = "<" + addr + ">: " + r.Text
	return r
}

// Because appends a reason: "Message rejected: duplicate From header; ...".
func (r Reply) Because(reason string) Reply {
	if reason != "" {
		r.Text = r.Text + "; " + reason
	}
	return r
}

// WithQueueID ends the text with the queue id, so a refused sender can quote
// it and the operator can find the whole story in the log.
func (r Reply) WithQueueID(id string) Reply {
	if id == "" || strings.HasSuffix(r.Text, id) {
		return r
	}
	r.Text = r.Text + "; queue id " + id
	return r
}

// Temporary reports whether the reply is a 4xx.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports whether the reply is a 5xx.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// IsZero reports whether r is unset.
func (r Reply) IsZero() bool { return r.Code == 0 }

// String renders the reply as it appears on the wire (single line).
func (r Reply) String() string {
	if r.Enhanced == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
}

// Error makes a Reply usable as an error that front ends recognise and send
// as is; any other error becomes ReplyInternal.
func (r Reply) Error() string { return r.String() }

// EnhancedParts splits the enhanced code into its three numbers; it returns
// ok=false when the code is absent or malformed.
func (r Reply) EnhancedParts() (parts [3]int, ok bool) {
	if r.Enhanced == "" {
		return parts, false
	}
	n, err := fmt.Sscanf(r.Enhanced, "%d.%d.%d", &parts[0], &parts[1], &parts[2])
	return parts, err == nil && n == 3
}
