package filters

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

func TestSpoolFacts(t *testing.T) {
	long := strings.Repeat("x", 999)
	tests := []struct {
		name       string
		msg        string
		nul        bool
		longLineAt int
		longest    int
		faults     int
		header8bit bool
		fields     int
	}{
		{"plain", "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n", false, 0, 11, 0, false, 2},
		{"nul in body", "From: a@b\r\n\r\nbo\x00dy\r\n", true, 0, 9, 0, false, 1},
		{"998 is fine", "From: a@b\r\n\r\n" + long[:998] + "\r\n", false, 0, 998, 0, false, 1},
		{"999 is too long", "From: a@b\r\n\r\n" + long + "\r\n", false, 3, 999, 0, false, 1},
		{"long last line without end", "From: a@b\r\n\r\n" + long, false, 3, 999, 0, false, 1},
		{"bare LF lines", "From: a@b\nSubject: x\n\nbody\n", false, 0, 10, 0, false, 2},
		{"folded field", "Subject: a\r\n b\r\nFrom: c\r\n\r\n", false, 0, 10, 0, false, 2},
		{"garbage line", "From: a@b\r\nthis is not a header\r\n\r\n", false, 0, 20, 1, false, 1},
		{"leading continuation", " x\r\nFrom: a@b\r\n\r\n", false, 0, 9, 1, false, 1},
		{"8-bit header", "Subject: caf\xc3\xa9\r\n\r\nbody\r\n", false, 0, 14, 0, true, 1},
		{"8-bit body only", "Subject: x\r\n\r\ncaf\xc3\xa9\r\n", false, 0, 10, 0, false, 1},
		{"no body", "From: a@b\r\n", false, 0, 9, 0, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage([]byte(tt.msg))
			if m.HasNUL != tt.nul || m.LongLineAt != tt.longLineAt || m.LongestLine != tt.longest || m.Header8Bit != tt.header8bit {
				t.Errorf("facts: nul=%v longLineAt=%d longest=%d 8bit=%v; want %v %d %d %v",
					m.HasNUL, m.LongLineAt, m.LongestLine, m.Header8Bit, tt.nul, tt.longLineAt, tt.longest, tt.header8bit)
			}
			if len(m.HeaderFaults) != tt.faults {
				t.Errorf("faults = %q, want %d", m.HeaderFaults, tt.faults)
			}
			if len(m.Header) != tt.fields {
				t.Errorf("fields = %d, want %d", len(m.Header), tt.fields)
			}
			if m.Size != int64(len(tt.msg)) {
				t.Errorf("size = %d, want %d", m.Size, len(tt.msg))
			}
		})
	}
}

func TestHeaderValuesAndRaw(t *testing.T) {
	raw := "Subject: hello\r\n world\r\nX-Spam-Flag : YES\r\nTo: a@b\r\nto: c@d\r\n\r\nbody\r\n"
	m := NewMessage([]byte(raw))
	if got := m.Header.Get("subject"); got != "hello world" {
		t.Errorf("unfolded subject = %q", got)
	}
	if got := m.Header.Get("X-Spam-Flag"); got != "YES" {
		t.Errorf("name with space before colon: %q", got)
	}
	if m.Header.Count("TO") != 2 || len(m.Header.Values("to")) != 2 {
		t.Error("case-insensitive count")
	}
	var b bytes.Buffer
	for _, f := range m.Header {
		b.Write(f.Raw)
	}
	if want := raw[:strings.Index(raw, "\r\n\r\n")+2]; b.String() != want {
		t.Errorf("raw fields do not rebuild the header:\n%q\n%q", b.String(), want)
	}
	body, err := m.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got, _ := io.ReadAll(body)
	if string(got) != "body\r\n" {
		t.Errorf("body = %q", got)
	}
}

func TestSpoolSpillsToDisk(t *testing.T) {
	dir := t.TempDir()
	s := NewSpool(SpoolConfig{Dir: dir, MemLimit: 1024})
	msg := "From: a@b\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 10000)
	for i := 0; i < len(msg); i += 700 {
		end := min(i+700, len(msg))
		if _, err := s.Write([]byte(msg[i:end])); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("want one spool file in %s, got %d", dir, len(ents))
	}
	m, err := s.Message()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != msg {
		t.Fatal("spooled bytes differ from what was written")
	}
	if m.Header.Get("From") != "a@b" {
		t.Error("header not parsed from the file")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatal("Close left the spool file behind")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("From: a@b\r\nSubject: x\r\n y\r\n\r\nbody"))
	f.Add([]byte(" \r\n:\r\n\x00: x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _ := ParseHeader(bytes.NewReader(b))
		for _, fld := range h {
			if fld.Name == "" || strings.ContainsAny(fld.Name, ": \t\r\n") {
				t.Fatalf("bad field name %q", fld.Name)
			}
		}
		m := NewMessage(b)
		if m.Size != int64(len(b)) || m.HeaderLen > m.Size {
			t.Fatalf("size %d headerLen %d for %d bytes", m.Size, m.HeaderLen, len(b))
		}
	})
}
