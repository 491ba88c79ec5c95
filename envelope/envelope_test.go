package envelope

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		in       string
		rcpt, u8 bool
		want     string
		err      error
	}{
		{in: "", want: ""},
		{in: "", rcpt: true, err: ErrSyntax},
		{in: "user@example.org", want: "user@example.org"},
		{in: "User@Example.ORG.", want: "User@Example.ORG"},
		{in: "john smith@good.test", want: "john smith@good.test"},
		{in: `a"b\c@good.test`, want: `a"b\c@good.test`},
		{in: "postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x@example.org", want: "postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x@example.org"},
		{in: "u@[192.0.2.1]", want: "u@[192.0.2.1]"},
		{in: "u@[IPv6:2001:db8::1]", want: "u@[IPv6:2001:db8::1]"},
		{in: "u@[999.0.0.1]", err: ErrSyntax},
		{in: "u@[2001:db8::1]", err: ErrSyntax},
		// Postmaster without a domain, recipients only, any case.
		{in: "Postmaster", rcpt: true, want: "Postmaster"},
		{in: "postmaster", rcpt: true, want: "postmaster"},
		{in: "POSTMASTER", rcpt: true, want: "POSTMASTER"},
		{in: "postmaster", err: ErrSyntax},
		{in: "abuse", rcpt: true, err: ErrSyntax},
		// NUL and other controls anywhere.
		{in: "\x00user@example.org", err: ErrSyntax},
		{in: "us\x00er@example.org", err: ErrSyntax},
		{in: "user\x00@example.org", err: ErrSyntax},
		{in: "user@\x00example.org", err: ErrSyntax},
		{in: "user@exam\x00ple.org", err: ErrSyntax},
		{in: "user@example.org\x00", err: ErrSyntax},
		{in: "postmaster\x00", rcpt: true, err: ErrSyntax},
		{in: "us\rer@example.org", err: ErrSyntax},
		{in: "us\ner@example.org", err: ErrSyntax},
		{in: "us\ter@example.org", err: ErrSyntax},
		{in: "us\x7fer@example.org", err: ErrSyntax},
		{in: "us\u0085er@example.org", u8: true, err: ErrSyntax},
		{in: "us\xffer@example.org", u8: true, err: ErrSyntax},
		// Malformed domains.
		{in: "u@", err: ErrSyntax},
		{in: "u@.example.org", err: ErrSyntax},
		{in: "u@example..org", err: ErrSyntax},
		{in: "u@-example.org", err: ErrSyntax},
		{in: "u@exa\"mple.org", err: ErrSyntax},
		{in: "u@exa_mple.org", err: ErrSyntax},
		{in: "u@" + strings.Repeat("a", 64) + ".org", err: ErrSyntax},
		{in: "@example.org", err: ErrSyntax},
		// Unicode: only with SMTPUTF8, only IDNA2008 spellings, relayed
		// in A-labels.
		{in: "u@bücher.example", err: ErrNonASCII},
		{in: "ü@example.org", err: ErrNonASCII},
		{in: "u@bücher.example", u8: true, want: "u@xn--bcher-kva.example"},
		{in: "ü@example.org", u8: true, want: "ü@example.org"},
		{in: "u@ｅｘａｍｐｌｅ.test", u8: true, err: ErrSyntax},
		{in: "u@example\u3002test", u8: true, err: ErrSyntax},
		{in: "u@exam\u00adple.test", u8: true, err: ErrSyntax},
		{in: "u@exam\u200bple.test", u8: true, err: ErrSyntax},
		{in: "u@\u212aexample.test", u8: true, err: ErrSyntax},
		{in: "u@example\uff0etest", u8: true, err: ErrSyntax},
		{in: "u@exam\u00adple.test", err: ErrNonASCII},
	}
	for _, tc := range tests {
		got, err := Canonical(tc.in, tc.rcpt, tc.u8)
		if !errors.Is(err, tc.err) || err == nil && got != tc.want {
			t.Errorf("Canonical(%q, rcpt=%v, smtputf8=%v) = %q, %v; want %q, %v", tc.in, tc.rcpt, tc.u8, got, err, tc.want, tc.err)
		}
	}
}

func TestPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"user@example.org", "user@example.org"},
		{"first.last+tag@example.org", "first.last+tag@example.org"},
		{"Postmaster", "Postmaster"},
		{"john smith@good.test", `"john smith"@good.test`},
		{"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x@example.org", `"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org`},
		{`a"b\c@x.test`, `"a\"b\\c"@x.test`},
		{"u@other@x.test", `"u@other"@x.test`},
		{".u@x.test", `".u"@x.test`},
		{"u.@x.test", `"u."@x.test`},
		{"u..v@x.test", `"u..v"@x.test`},
		{"u:v@x.test", `"u:v"@x.test`},
		{"<u>@x.test", `"<u>"@x.test`},
		{"ü@x.test", "ü@x.test"},
	}
	for _, tc := range tests {
		if got := Path(tc.in); got != tc.want {
			t.Errorf("Path(%q) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzPath: whatever Canonical accepts, Path writes as one path that reads
// back as the same address, with nothing outside it.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"user@example.org", "john smith@good.test", `a"b\c@x`, "postmaster> NOTIFY=NEVER@x.test", "Postmaster", "u@[192.0.2.1]", "ü@bücher.example"} {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, s string, rcpt, u8 bool) {
		c, err := Canonical(s, rcpt, u8)
		if err != nil {
			return
		}
		p := Path(c)
		if strings.ContainsAny(p, "\x00\r\n\t") {
			t.Fatalf("path %q has a control character", p)
		}
		got, rest, ok := readPath(p)
		if !ok || rest != "" || got != c {
			t.Fatalf("Path(%q) = %q reads back as %q rest %q ok %v", c, p, got, rest, ok)
		}
	})
}

// readPath reads a path as RFC 5321 section 4.1.2 does: a dot-string or a
// quoted string, then "@" and a domain up to a space or ">".
func readPath(p string) (addr, rest string, ok bool) {
	var local strings.Builder
	i := 0
	if strings.HasPrefix(p, `"`) {
		for i = 1; ; i++ {
			if i >= len(p) {
				return "", "", false
			}
			if p[i] == '\\' {
				i++
				if i >= len(p) {
					return "", "", false
				}
			} else if p[i] == '"' {
				i++
				break
			}
			local.WriteByte(p[i])
		}
	} else {
		for ; i < len(p) && p[i] != '@' && p[i] != ' ' && p[i] != '>'; i++ {
			if strings.IndexByte(`()<>[]:;\,"`, p[i]) >= 0 {
				return "", "", false
			}
			local.WriteByte(p[i])
		}
	}
	if i == len(p) {
		return local.String(), "", true
	}
	if p[i] != '@' {
		return "", "", false
	}
	j := i + 1
	for j < len(p) && p[j] != ' ' && p[j] != '>' {
		j++
	}
	return local.String() + p[i:j], p[j:], true
}
