package filters

import (
	"mime"
	"net/mail"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/emersion/go-message/charset"
)

// hit is a scored test that fired, with why, for the log.
type hit struct{ test, reason string }

// wordDecoder decodes RFC 2047 encoded words in any charset go-message
// knows, so a Subject in ISO-2022-JP or KOI8-R is judged on its letters.
var (
	wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}
	addrParser  = &mail.AddressParser{WordDecoder: wordDecoder}
)

// headerTests runs the scored tests on the header and the envelope.
func (c *messageChecks) headerTests(t *Transaction, m *Message) []hit {
	var hs []hit
	h := m.Header
	if !h.Has("Date") {
		hs = append(hs, hit{"MISSING_DATE", "no Date header"})
	} else if d, err := parseDate(h.Get("Date")); err != nil {
		hs = append(hs, hit{"INVALID_DATE", "Date does not parse"})
	} else {
		now := c.cfg.Now()
		switch {
		case d.Before(now.Add(-c.cfg.DatePast)):
			hs = append(hs, hit{"DATE_IN_PAST", "Date " + now.Sub(d).Round(time.Hour).String() + " before arrival"})
		case d.After(now.Add(c.cfg.DateFuture)):
			hs = append(hs, hit{"DATE_IN_FUTURE", "Date " + d.Sub(now).Round(time.Hour).String() + " after arrival"})
		}
	}
	if !h.Has("Message-ID") {
		hs = append(hs, hit{"MISSING_MID", "no Message-ID header"})
	}
	if m.Header8Bit && !t.SMTPUTF8 {
		hs = append(hs, hit{"HEADER_8BIT", "8-bit header without SMTPUTF8"})
	}
	if s := h.Get("Subject"); s != "" && mostlyCapitals(decodeWords(s)) {
		hs = append(hs, hit{"SUBJ_ALL_CAPS", "Subject in capitals"})
	}
	if n := countAddresses(h.Values("To")) + countAddresses(h.Values("Cc")); n > c.cfg.ManyRecipients {
		hs = append(hs, hit{"MANY_RECIPIENTS", "many To/Cc addresses"})
	}
	if t.Conn == nil || t.Conn.MayRelay() {
		// Our own clients may send as our domains, name themselves as
		// they like and carry our Received lines back.
		return hs
	}
	if c.domains[addrDomain(h.Get("From"))] {
		hs = append(hs, hit{"SPOOFED_LOCAL_FROM", "From in a local domain from an outside client"})
	}
	if helo := normName(t.Conn.Helo); helo != "" {
		if (helo == c.cfg.Hostname && strings.Contains(helo, ".")) || c.domains[helo] {
			hs = append(hs, hit{"HELO_LOCAL_NAME", "HELO claims our name"})
		} else if ip, ok := heloIP(helo); ok && t.Conn.ClientIP.IsValid() && ip != t.Conn.ClientIP.Unmap() {
			hs = append(hs, hit{"HELO_IP_MISMATCH", "HELO IP literal is not the client's"})
		}
	}
	// A name without a dot ("localhost", the default on an unconfigured
	// machine) is in countless honest Received lines: only a full name is
	// a claim to be this host.
	if strings.Contains(c.cfg.Hostname, ".") && forgedReceived(h, c.cfg.Hostname, t.QueueID) {
		hs = append(hs, hit{"FORGED_RECEIVED", "arriving Received claims this host"})
	}
	return hs
}

// forgedReceived reports whether an arriving Received line says it was
// written "by" this host. A line carrying this transaction's queue id is
// the current hop's own (a milter sees its MTA's Received) and is skipped.
func forgedReceived(h Header, host, queueID string) bool {
	for _, v := range h.Values("Received") {
		if queueID != "" && strings.Contains(v, queueID) {
			continue
		}
		lower := strings.ToLower(v)
		if !strings.Contains(lower, host) {
			continue
		}
		words := strings.Fields(lower)
		for i := 0; i+1 < len(words); i++ {
			if words[i] == "by" && strings.TrimRight(strings.Trim(words[i+1], "()[]"), ".;,") == host {
				return true
			}
		}
	}
	return false
}

// heloIP parses a HELO that is an address literal ("[192.0.2.1]",
// "[IPv6:2001:db8::1]") or a bare address.
func heloIP(helo string) (netip.Addr, bool) {
	s := strings.TrimSuffix(strings.TrimPrefix(helo, "["), "]")
	s = strings.TrimPrefix(s, "ipv6:")
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// addrDomain returns the lower-cased domain of the first address in a From
// value, or "".
func addrDomain(v string) string {
	addr := ""
	if as, err := addrParser.ParseList(v); err == nil && len(as) > 0 {
		addr = as[0].Address
	} else if lt := strings.LastIndexByte(v, '<'); lt >= 0 {
		addr = v[lt+1:]
		if gt := strings.IndexByte(addr, '>'); gt >= 0 {
			addr = addr[:gt]
		}
	} else {
		addr = v
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return normName(addr[at+1:])
}

// countAddresses counts the addresses of address-list fields; a list that
// does not parse is counted by its "@" signs.
func countAddresses(vs []string) int {
	n := 0
	for _, v := range vs {
		if as, err := addrParser.ParseList(v); err == nil {
			n += len(as)
		} else {
			n += strings.Count(v, "@")
		}
	}
	return n
}

func decodeWords(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// mostlyCapitals reports whether a text has enough letters to judge and
// nine in ten of its cased letters are capitals, as in "FREE MONEY NOW".
func mostlyCapitals(s string) bool {
	var upper, lower int
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			upper++
		case unicode.IsLower(r):
			lower++
		}
	}
	return upper+lower >= 10 && upper*10 >= (upper+lower)*9
}

// parseDate parses a Date: value. The usual form is tried first, because
// net/mail tries its many layouts in turn and allocates an error for each
// one that fails.
func parseDate(v string) (time.Time, error) {
	if d, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", v); err == nil {
		return d, nil
	}
	return mail.ParseDate(v)
}
