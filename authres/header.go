package authres

import (
	"strings"
)

// headerName is the field this package adds (RFC 8601).
const headerName = "Authentication-Results"

// result is one resinfo of an Authentication-Results field (RFC 8601
// section 2.2): method=result, an optional comment and reason, and
// properties such as smtp.mailfrom=... in order.
type result struct {
	method  string // spf, dkim, dmarc
	value   string // pass, fail, none, temperror, ...
	comment string
	reason  string
	props   [][2]string
}

// formatResults renders the field's value with authservID as the
// authserv-id. It stays on one line: front ends add it as an unfolded
// value.
func formatResults(authservID string, rs []result) string {
	var b strings.Builder
	b.WriteString(authservID)
	if len(rs) == 0 {
		b.WriteString("; none")
		return b.String()
	}
	for _, r := range rs {
		b.WriteString("; ")
		b.WriteString(r.method)
		b.WriteByte('=')
		b.WriteString(r.value)
		if r.comment != "" {
			b.WriteString(" (")
			b.WriteString(cleanComment(r.comment))
			b.WriteByte(')')
		}
		if r.reason != "" {
			b.WriteString(" reason=")
			b.WriteString(quoted(r.reason))
		}
		for _, p := range r.props {
			if p[1] == "" {
				continue
			}
			b.WriteByte(' ')
			b.WriteString(p[0])
			b.WriteByte('=')
			b.WriteString(pvalue(p[1]))
		}
	}
	return b.String()
}

// pvalue renders a property value: as is when it is a token, an address or
// a domain (RFC 8601 section 2.2 "pvalue"), quoted otherwise.
func pvalue(s string) string {
	for _, c := range s {
		if !isAtext(c) && c != '@' && c != '.' {
			return quoted(s)
		}
	}
	if s == "" || strings.Count(s, "@") > 1 {
		return quoted(s)
	}
	return s
}

// isAtext is RFC 5322's atext.
func isAtext(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c < 0x80 && strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", c)
}

// quoted renders s as an RFC 5322 quoted-string, dropping control
// characters that have no place in a header.
func quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cleanComment keeps a comment from closing or nesting early.
func cleanComment(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c == '(' || c == ')' || c == '\\':
			return ' '
		case c < 0x20 || c == 0x7f:
			return ' '
		}
		return c
	}, s)
}

// authservID returns the authserv-id of an Authentication-Results value:
// its first token or quoted-string (quoted-pairs undone), after any
// leading comments (RFC 8601 section 2.2). It is "" when there is none to
// read.
func authservID(v string) string {
	v = skipCFWS(v)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(v[i])
			}
		}
		return "" // unterminated
	}
	end := strings.IndexAny(v, "; \t\r\n(\"")
	if end < 0 {
		end = len(v)
	}
	return v[:end]
}

// skipCFWS removes leading white space and (possibly nested) comments.
func skipCFWS(v string) string {
	for {
		v = strings.TrimLeft(v, " \t\r\n")
		if !strings.HasPrefix(v, "(") {
			return v
		}
		depth := 0
		i := 0
	comment:
		for ; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					break comment
				}
			}
		}
		if i >= len(v) {
			return ""
		}
		v = v[i+1:]
	}
}

// ours reports whether an arriving Authentication-Results field claims to
// come from us: such a field is forged or stale, and RFC 8601 section 5
// says to remove it before adding our own. A field whose authserv-id we
// cannot read goes too: it is no valid result of anyone's, and a laxer
// reader downstream (one that does not nest comments, say) might read our
// name in it.
//
// value may be only the start of a very long field (filters.Transaction
// StripHeaders): the authserv-id comes first, so the start decides, and a
// start that is all comment has no readable authserv-id.
func ours(hostname string) func(name, value string) bool {
	host := strings.TrimSuffix(hostname, ".")
	return func(name, value string) bool {
		if !strings.EqualFold(strings.TrimSpace(name), headerName) {
			return false
		}
		id := strings.TrimSpace(authservID(value))
		return id == "" || strings.EqualFold(strings.TrimSuffix(id, "."), host)
	}
}
