package classifier

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFileParam(t *testing.T) {
	tests := []struct{ v, key, want string }{
		{`attachment; filename="a b.pdf"`, "filename", "a b.pdf"},
		{`attachment; filename=plain.txt`, "filename", "plain.txt"},
		{`attachment; filename="q\"uote.txt"`, "filename", `q"uote.txt`},
		{`attachment; filename*=UTF-8''%C3%A9t%C3%A9.txt`, "filename", "été.txt"},
		{`attachment; filename*=iso-8859-1'fr'r%E9sum%E9.doc`, "filename", "résumé.doc"},
		{`attachment; filename*0="long"; filename*1="name"; filename*2=".zip"`, "filename", "longname.zip"},
		{`attachment; filename*1=".zip"; filename*0="out of order"`, "filename", "out of order.zip"},
		{`attachment; filename*0*=UTF-8''%C3%A9; filename*1="x.js"`, "filename", "éx.js"},
		{`attachment; filename="=?UTF-8?B?w6l0w6kucGRm?="`, "filename", "été.pdf"},
		{`attachment; filename="=?UTF-8?B?w6l0w6kucGRm?="; filename*=UTF-8''better.pdf`, "filename", "better.pdf"},
		{`application/octet-stream; name="semi;colon.exe"`, "name", "semi;colon.exe"},
		{`application/octet-stream; NAME="upper.exe"`, "name", "upper.exe"},
		{`attachment; filename="ctl` + "\x01" + `.exe"`, "filename", "ctl.exe"},
		{`attachment; size=3`, "filename", ""},
	}
	for _, tt := range tests {
		if got := FileParam(tt.v, tt.key); got != tt.want {
			t.Errorf("FileParam(%q, %s) = %q, want %q", tt.v, tt.key, got, tt.want)
		}
	}
}

// TestWalk: the leaf parts of a message, decoded, with their names.
func TestWalk(t *testing.T) {
	raw, err := os.ReadFile("testdata/base64.eml")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	Walk(raw, WalkLimits{}, func(p *Part) { types = append(types, p.Type) })
	if len(types) == 0 {
		t.Fatal("no parts")
	}
	msg := "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak\r\n" +
		"--x\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--x--\r\n"
	var got []string
	res := Walk([]byte(msg), WalkLimits{}, func(p *Part) {
		got = append(got, p.Type+"|"+p.Filename+"|"+strings.Join(p.Names, ",")+"|"+string(p.Body))
	})
	want := []string{"text/plain|||softbreak", "application/pdf|b.pdf|b.pdf,a.pdf|%PDF-"}
	if !slices.Equal(got, want) || res.Parts != 3 || res.Truncated != "" {
		t.Errorf("got %q (%+v), want %q", got, res, want)
	}
	res = Walk([]byte(msg), WalkLimits{MaxParts: 2}, func(*Part) {})
	if res.Truncated != "parts" {
		t.Errorf("limit: %+v", res)
	}
}

// FuzzFileParam: a decoded name is valid UTF-8 without control
// characters, whatever the header.
func FuzzFileParam(f *testing.F) {
	for _, s := range []string{`attachment; filename*0*=iso-8859-1''%E9; filename*1="x"`, `a; filename="=?utf-8?q?x?="`, `a; filename*=''%`, `a; filename*999999999=x`, `a; filename="\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n := FileParam(v, "filename")
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 %q", n)
		}
		for _, r := range n {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character in %q", n)
			}
		}
	})
}
