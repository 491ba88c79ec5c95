package verify

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	"mailguard/filters"
)

const sendersFile = `# who may send as whom
alice: alice@example.org, @alice.example
bob: bob@example.org team@example.org
`

func TestSenderID(t *testing.T) {
	senders, err := ParseSenders([]byte(sendersFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, user, from, sender string
		reject                   bool
		wantSender               string // "" for no Sender: added
		wantRefused              bool
	}{
		{"own address", "alice", "Alice <alice@example.org>", "", false, "", false},
		{"own domain", "alice", "x@alice.example", "", false, "", false},
		{"someone else", "alice", "Boss <boss@example.org>", "", false, "alice@example.org", false},
		{"second address", "bob", "team@example.org", "", false, "", false},
		{"login is the address", "carol@example.org", "carol@example.org", "", false, "", false},
		{"unlisted login as someone else", "carol@example.org", "dave@example.org", "", false, "carol@example.org", false},
		{"Sender: already owned", "alice", "boss@example.org", "alice@example.org", false, "", false},
		{"no From", "alice", "", "", false, "alice@example.org", false},
		{"reject mode", "alice", "boss@example.org", "", true, "", true},
		{"not authenticated", "", "boss@example.org", "", true, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.1"), AuthUser: tt.user, Log: slog.New(slog.DiscardHandler)}
			tr := filters.NewTransaction(c, "Q1")
			hdr := ""
			if tt.from != "" {
				hdr += "From: " + tt.from + "\r\n"
			}
			if tt.sender != "" {
				hdr += "Sender: " + tt.sender + "\r\n"
			}
			m := filters.NewMessage([]byte(hdr + "Subject: x\r\n\r\nbody\r\n"))
			v := (&SenderID{Senders: senders, Reject: tt.reject}).CheckMessage(context.Background(), tr, m)
			if refused := v.Action == filters.Reject; refused != tt.wantRefused {
				t.Fatalf("verdict %+v, want refused %v", v, tt.wantRefused)
			}
			if tt.wantRefused && (v.Reply.Code != 553 || v.Reply.Enhanced != "5.7.1") {
				t.Errorf("reply %s", v.Reply)
			}
			var got string
			for _, f := range tr.AddedHeaders() {
				if f.Name == "Sender" {
					got = f.Value
				}
			}
			if got != tt.wantSender {
				t.Errorf("Sender: %q, want %q", got, tt.wantSender)
			}
		})
	}
}

func TestParseSendersErrors(t *testing.T) {
	for _, bad := range []string{"alice", ": a@b.c", "alice: nodomain", "alice: a@b@c", "alice: a@"} {
		if _, err := ParseSenders([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseSenders(f *testing.F) {
	f.Add([]byte(sendersFile))
	f.Add([]byte("a: @x\n#c\n\n b :c@d,,e@f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSenders(data)
		if err != nil {
			return
		}
		for user, list := range s {
			for _, e := range list {
				if e[0] != '@' && !s.Owns(user, e) {
					t.Fatalf("%s does not own its own entry %q", user, e)
				}
			}
		}
	})
}
