package proxy

import (
	"io"
	"net/netip"
	"strings"
	"time"

	"mailguard/envelope"
	"mailguard/filters"
)

// The relayed message is: a Received: field for this hop, then what
// filters.WriteMessage makes of the message (the chain's fields, the
// arriving ones minus the forged verdict fields and those a check asked to
// strip).

// receivedInfo is what the Received: field says about the hop.
type receivedInfo struct {
	Helo       string
	ClientName string
	ClientIP   netip.Addr
	Hostname   string
	Protocol   string // SMTP, ESMTP, ESMTPS, ESMTPSA...
	QueueID    string
	Rcpts      []string
	Date       time.Time
}

// received renders the trace field of RFC 5321 section 4.4:
//
//	Received: from HELO (NAME [IP])
//		by HOSTNAME (mailguard) with ESMTPS id QUEUEID
//		for <rcpt>; DATE
func received(ri receivedInfo) string {
	var b strings.Builder
	name := ri.ClientName
	if name == "" {
		name = "unknown"
	}
	ip := ri.ClientIP.String()
	if ri.ClientIP.Is6() && !ri.ClientIP.Is4In6() {
		ip = "IPv6:" + ip
	}
	b.WriteString("Received: from " + filters.CleanValue(ri.Helo) + " (" + filters.CleanValue(name) + " [" + ip + "])\r\n")
	b.WriteString("\tby " + filters.CleanValue(ri.Hostname) + " (mailguard) with " + ri.Protocol + " id " + ri.QueueID)
	if len(ri.Rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + filters.CleanValue(envelope.Path(ri.Rcpts[0])) + ">")
	}
	b.WriteString("; " + ri.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700 (MST)") + "\r\n")
	return b.String()
}

// protocol names the transport as RFC 3848 does.
func protocol(c *filters.ClientConn) string {
	if !c.ESMTP {
		return "SMTP"
	}
	p := "ESMTP"
	if c.TLS {
		p += "S"
	}
	if c.AuthUser != "" {
		p += "A"
	}
	return p
}

// writeMessage writes the relayed form of the message; see
// filters.WriteMessage.
func writeMessage(w io.Writer, top string, added []filters.Field, strip func(name, value string) bool, src io.Reader) error {
	return filters.WriteMessage(w, top, added, strip, src)
}

// isSpamField reports whether a field name is a verdict field only this
// gateway may write.
func isSpamField(name string) bool { return filters.IsVerdictField(name) }
