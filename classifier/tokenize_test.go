package classifier

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden token lists in testdata/")

// TestTokenizeGolden compares the tokens of each testdata/*.eml with
// testdata/*.golden (one token a line, sorted); -update rewrites them.
func TestTokenizeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			toks := Tokenize(raw)
			slices.Sort(toks)
			got := strings.Join(toks, "\n") + "\n"
			golden := strings.TrimSuffix(f, ".eml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TokenizeGolden -update to create it)", err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for _, w := range wl {
					if !slices.Contains(gl, w) {
						t.Errorf("lost token %q", w)
					}
				}
				for _, g := range gl {
					if !slices.Contains(wl, g) {
						t.Errorf("new token %q", g)
					}
				}
				t.Log("if the change is meant, run go test -run TokenizeGolden -update")
			}
		})
	}
}

// TestTokenizeReads checks what a reader of each sample sees, whatever the
// golden files say.
func TestTokenizeReads(t *testing.T) {
	tests := []struct {
		file     string
		want     []string
		mustNot  []string
		prefixes []string // no token may start with these
	}{
		{
			file: "base64.eml",
			want: []string{"quarterly", "figures", "attached", "bi:quarterly figures", "subject:weekly", "subject:report",
				"url:reports.example.com", "url:example.com", "proto:https", "email:example.com",
				"from:dom:mail.example.com", "from:addr:ann@mail.example.com", "from:name:ann",
				"received:192.0.2.10", "received:192.0.2", "received:mail.example.com", "encoding:base64", "charset:utf-8",
				"message-id:dom:mail.example.com"},
			mustNot:  []string{"leak", "header:delivered-to", "received:mx.example.org"},
			prefixes: []string{"header:x-spam", "x-spam"},
		},
		{
			file: "qp.eml",
			want: []string{"café", "crème", "brûlée", "subject:spécial", "subject:offer", "url:www.shop.example.net",
				"escape", "inside", "x-mailer:mailer", "x-mailer:mailer 3.1 (build 42)", "charset:iso-8859-1"},
		},
		{
			file: "html.eml",
			want: []string{"viagra", "friends", "plain", "url:ip", "url:198.51.100.7", "url:img.tracker.example.com",
				"email:promo.example", "links:2", "images:1", "content-type:multipart/alternative", "content-type:text/html"},
			mustNot: []string{"scriptword", "commentword", "color", "hidden", "iagra"},
		},
		{
			file: "koi8r.eml",
			want: []string{"привет", "коллеги", "встреча", "завтра", "subject:привет", "from:name:иван", "charset:koi8-r"},
		},
		{
			file: "malformed.eml",
			want: []string{"this", "base64", "broken", "filename:.exe", "content-type:application/octet-stream",
				"unclosed", "multipart:noboundary", "nested", "header:message-id", "message-id:dom:bad.example"},
			mustNot: []string{"preamble", "from:dom:example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			toks := Tokenize(raw)
			set := map[string]bool{}
			for _, tok := range toks {
				if set[tok] {
					t.Errorf("token %q twice", tok)
				}
				set[tok] = true
				for _, p := range tc.prefixes {
					if strings.HasPrefix(tok, p) {
						t.Errorf("token %q comes from a field that must not be read", tok)
					}
				}
			}
			for _, w := range tc.want {
				if !set[w] {
					t.Errorf("missing %q", w)
				}
			}
			for _, w := range tc.mustNot {
				if set[w] {
					t.Errorf("unexpected %q", w)
				}
			}
		})
	}
}

// X-Spam-* and the like carry an upstream verdict: whatever they say, the
// tokens must not change.
func TestTokenizeIgnoresVerdictHeaders(t *testing.T) {
	base := "From: a@example.com\nTo: b@example.org\nSubject: hello there\n\nsome body text here\n"
	with := "X-Spam-Status: Yes, score=20.0 required=5.0 tests=BAYES_99\nX-Spam-Flag: YES\nX-Spam-Level: ********\n" +
		"X-Virus-Scanned: clean\nX-Bogosity: Spam, tests=bogofilter\nDelivered-To: b@example.org\nX-Keywords: junk\n" + base
	a, b := Tokenize([]byte(base)), Tokenize([]byte(with))
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("verdict headers changed the tokens:\nwithout %q\nwith    %q", a, b)
	}
}

func TestTokenizeBounds(t *testing.T) {
	// A huge body is read up to the text bound only; long words become
	// skip tokens.
	body := strings.Repeat("wordone wordtwo ", maxTextBytes/8) + " tailword " + strings.Repeat("x", 500)
	toks := Tokenize([]byte("Subject: big\n\n" + body))
	set := map[string]bool{}
	for _, tok := range toks {
		set[tok] = true
	}
	if !set["wordone"] || set["tailword"] {
		t.Errorf("text bound not applied: wordone %v, tailword %v", set["wordone"], set["tailword"])
	}
	toks = Tokenize([]byte("Subject: long\n\nsupercalifragilisticexpialidocious " + strings.Repeat("y", 45)))
	if !slices.Contains(toks, "skip:s 30") || !slices.Contains(toks, "skip:y 40") {
		t.Errorf("long words: got %q", toks)
	}
	// Punctuation runs once took prose time cubic in their length.
	Tokenize([]byte("Subject: x\n\n" + strings.Repeat("(", 200000) + "word" + strings.Repeat(")", 200000)))
	if n := len(Tokenize([]byte(strings.Repeat("Subject: x\n", 100000)))); n > maxTokens {
		t.Errorf("%d tokens, over the bound %d", n, maxTokens)
	}
}

func TestTokenizeHeaderOnly(t *testing.T) {
	for _, raw := range []string{"", "\n", "\r\n\r\n", "From: a@b.example", "no header at all\njust text", "Subject: only\r\n"} {
		Tokenize([]byte(raw)) // must not panic
	}
	toks := Tokenize([]byte("Subject: hello world"))
	if !slices.Contains(toks, "subject:hello") {
		t.Errorf("header without a body: %q", toks)
	}
}

func TestDigest(t *testing.T) {
	msg := "From: a@example.com\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\n\r\nbody line  \r\nsecond\r\n"
	again := "From a@example.com Mon Jan 1 00:00:00 2002\nReceived: from x by y; Mon, 1 Jan 2002\nX-Spam-Status: No\n" +
		"From: a@example.com\nSubject: hi\nMessage-ID: <1@example.com>\n\nbody line\nsecond\n\n"
	if Digest([]byte(msg)) != Digest([]byte(again)) {
		t.Error("the same message relayed and stored in an mbox has another digest")
	}
	other := strings.Replace(msg, "second", "third", 1)
	if Digest([]byte(msg)) == Digest([]byte(other)) {
		t.Error("different bodies share a digest")
	}
	if len(Digest([]byte(msg))) != 64 {
		t.Errorf("digest %q is not hex sha256", Digest([]byte(msg)))
	}
}

func TestShape(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Tue, 27 Aug 2002 10:00:00 +0100", 40, "a, 9 a 9 9:9:9 +9"},
		{"20020827.ABC123$def", 16, "9.a9$a"},
		{"john.smith99", 24, "a.a9"},
		{"\xea\x82\x82\xea\x82\x82 x\u00e9", 40, "u au"},
		{"a1a1a1a1", 3, "a9a"},
		{"", 10, ""},
	}
	for _, tc := range tests {
		if got := shape(tc.in, tc.max); got != tc.want {
			t.Errorf("shape(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// The filter tokenizes a message held in memory in place: Tokenize must
// leave its input as it was.
func TestTokenizeLeavesInputAlone(t *testing.T) {
	msgs := [][]byte{
		[]byte("From: a@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/html\r\n\r\n<p>Caf&eacute; <a href=\"http://x.example/\">LINK</a></p>\r\n"),
		[]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =41\r\n--b--\r\n"),
	}
	if dir, err := filepath.Glob(filepath.Join(filepath.Dir(mustCaller(t)), "..", "..", "shared", "corpus", "spamassassin", "*", "*")); err == nil {
		for _, name := range dir[:min(len(dir), 600)] {
			if b, err := os.ReadFile(name); err == nil {
				msgs = append(msgs, b)
			}
		}
	}
	for i, m := range msgs {
		before := bytes.Clone(m)
		Tokenize(m)
		if !bytes.Equal(m, before) {
			t.Fatalf("message %d: Tokenize modified its input", i)
		}
	}
}

func mustCaller(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return file
}
