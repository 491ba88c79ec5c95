package classifier

import (
	"net/mail"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// ignored reports header fields that are never tokenized, not even their
// name: an upstream filter's verdict (X-Spam-*, X-Virus-*, ...) would teach
// the label itself, and what a mailbox adds on delivery (Delivered-To,
// Return-Path, Status, X-Keywords, ...) teaches how the sample was
// collected rather than what the mail is.
func ignored(name string) bool {
	switch name {
	case "received", "delivered-to", "return-path", "status", "x-status",
		"x-keywords", "x-uid", "x-uidl", "delivery-date", "envelope-to",
		"x-original-to", "x-bogosity", "lines", "content-length", "x-mozilla-status",
		"x-mozilla-status2", "x-evolution", "x-imap", "x-imapbase", "x-label":
		return true
	}
	for _, p := range []string{"x-spam", "x-virus", "x-dspam", "x-mailscanner", "x-amavis", "x-razor", "x-envelope", "x-pyzor", "x-crm114", "x-antispam", "x-antivirus", "x-mailguard"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// headers tokenizes the header fields that carry a sender's habits.
func (t *tokenizer) headers(h header) {
	for _, f := range h.fields {
		if ignored(f.name) {
			continue
		}
		t.add("header:" + f.name)
	}
	t.words("subject:", decodeHeader(h.Get("subject")))
	from := t.addresses("from:", h.Get("from"))
	rt := t.addresses("reply-to:", h.Get("reply-to"))
	if len(rt) > 0 && len(from) > 0 && rt[0] != from[0] {
		t.add("reply-to:differs")
	}
	n := 0
	for _, name := range []string{"to", "cc"} {
		for _, v := range h.Values(name) {
			n += len(t.addresses(name+":", v))
		}
	}
	t.add("rcpts:" + bucket(n))
	for _, name := range []string{"x-mailer", "user-agent"} {
		if v := h.Get(name); v != "" {
			t.add(name + ":" + clip(strings.ToLower(strings.Join(strings.Fields(v), " ")), 40))
			t.add(name + ":" + strings.ToLower(strings.Fields(v)[0]))
		}
	}
	if v := h.Get("x-priority"); v != "" {
		t.add("x-priority:" + clip(strings.ToLower(strings.TrimSpace(v)), 10))
	}
	t.messageID(h.Get("message-id"))
	// The form of the Date field ("a, 9 a 9 9:9:9 +9" from most mailers):
	// on ten rotated splits of the SpamAssassin corpus it lowered
	// (1-ROCA)% on every one, as did the form of the sender's local part.
	if d := strings.TrimSpace(h.Get("date")); d != "" {
		t.add("date:shape:" + shape(d, 40))
	} else {
		t.add("date:none")
	}
	for _, v := range h.Values("received") {
		t.received(v)
	}
}

var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// addresses tokenizes an address list field: each address's domain and
// parent domains, whether it has a display name, and the display name's
// words. It returns the domains found.
func (t *tokenizer) addresses(prefix, v string) []string {
	if v == "" {
		return nil
	}
	list, err := addressParser.ParseList(v)
	var doms []string
	if err != nil {
		// Keep what can be salvaged from an unparsable list.
		t.add(prefix + "unparsable")
		for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '<' || r == '>' || r == '"' }) {
			if at := strings.LastIndexByte(w, '@'); at > 0 {
				d := strings.ToLower(w[at+1:])
				t.domain(prefix+"dom:", d)
				doms = append(doms, d)
			}
		}
		return doms
	}
	for _, a := range list {
		addr := strings.ToLower(a.Address)
		if at := strings.LastIndexByte(addr, '@'); at >= 0 {
			d := addr[at+1:]
			t.domain(prefix+"dom:", d)
			doms = append(doms, d)
		}
		if prefix == "from:" {
			t.add("from:addr:" + addr)
			if at := strings.LastIndexByte(addr, '@'); at > 0 {
				t.add("from:local:" + shape(addr[:at], 24))
			}
		}
		if a.Name == "" {
			t.add(prefix + "noname")
		} else if prefix == "from:" {
			for _, w := range strings.Fields(strings.ToLower(a.Name)) {
				t.word("from:name:", w)
			}
		}
	}
	return doms
}

// messageID tokenizes the shape of a Message-ID (runs of digits, letters
// and other characters in its left part) and its domain: mailers make them
// in recognisable ways and spamware often makes them badly.
func (t *tokenizer) messageID(v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		t.add("message-id:none")
		return
	}
	v = strings.Trim(v, "<>")
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		t.add("message-id:noat")
		return
	}
	t.add("message-id:shape:" + shape(v[:at], 16))
	dom := strings.ToLower(v[at+1:])
	if _, ok := parseAddr(strings.Trim(dom, "[]")); ok {
		t.add("message-id:ip")
		return
	}
	t.domain("message-id:dom:", dom)
}

// shape reduces s to its form, at most max marks long: digits become 9,
// ASCII letters a, other characters beyond ASCII u, the rest of ASCII
// stays, and a run of one kind is one mark. Mailers and spamware write
// dates, Message-IDs and sender names each in a form of their own. The
// form is ASCII whatever s holds.
func shape(s string, max int) string {
	var b []byte
	last := byte(0)
	for _, r := range s {
		if len(b) >= max {
			break
		}
		var k byte
		switch {
		case r >= '0' && r <= '9':
			k = '9'
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			k = 'a'
		case r >= utf8.RuneSelf:
			k = 'u'
		default:
			k = byte(r)
		}
		if k != last {
			b = append(b, k)
			last = k
		}
	}
	return string(b)
}

// received tokenizes one hop: the host names and address of its "from"
// clause ("from helo (rdns [ip])"). The "by" side names the receiving
// servers, which are the same for all mail of one site; hops from the
// loopback or private networks are local delivery steps.
func (t *tokenizer) received(v string) {
	if len(v) < 5 || !strings.EqualFold(v[:5], "from ") {
		return
	}
	clause := v[5:]
	if i := strings.Index(clause, " by "); i >= 0 {
		clause = clause[:i]
	} else if i := strings.Index(clause, "\tby "); i >= 0 {
		clause = clause[:i]
	}
	var ipBuf [4]netip.Addr
	var nameBuf [8]string
	ips, names := ipBuf[:0], nameBuf[:0]
	for len(clause) > 0 {
		i := strings.IndexAny(clause, " ()[]\t=,")
		w := clause
		if i >= 0 {
			w, clause = clause[:i], clause[i+1:]
		} else {
			clause = ""
		}
		w = strings.Trim(w, ".;:")
		if w == "" {
			continue
		}
		if len(w) > 5 && strings.EqualFold(w[:5], "ipv6:") {
			w = w[5:]
		}
		if a, ok := parseAddr(w); ok {
			if len(ips) < cap(ips) {
				ips = append(ips, a)
			}
			continue
		}
		if hostLike(w) && len(names) < cap(names) {
			names = append(names, w)
		}
	}
	for _, a := range ips {
		if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() {
			return
		}
	}
	for _, a := range ips {
		t.ip("received:", a)
	}
	for _, n := range names {
		t.domain("received:", n)
	}
	if len(ips) == 0 && len(names) == 0 {
		t.add("received:unknown")
	}
}

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// hostLike reports whether w looks like a host name: dotted, without an
// address's or a path's marks, and ending in a label of letters (so a
// version number such as 8.12.5 is not taken for one).
func hostLike(w string) bool {
	dot := strings.LastIndexByte(w, '.')
	if dot < 0 || dot == len(w)-1 || strings.ContainsAny(w, "@/") {
		return false
	}
	for _, c := range w[dot+1:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// parseAddr is netip.ParseAddr for text that is mostly not an address
// (host names, words of a Received field): what cannot be one, neither
// starting with a digit (IPv4) nor holding a colon (IPv6), is refused
// before ParseAddr allocates its error.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" || (s[0] < '0' || s[0] > '9') && strings.IndexByte(s, ':') < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
