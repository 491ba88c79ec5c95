package mailfiles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func FuzzRead(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody\n"))
	f.Add([]byte("From a@b Thu Aug 22 12:34:56 2002\nSubject: a\n\nx\n\nFrom c@d Thu Aug 22 12:34:56 2002\n\ny\n"))
	f.Add([]byte("From a@b Thu Aug 22 12:34:56 2002\r\n\r\nFrom c@d Thu Aug 22 12:34:56 2002\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// In memory and a line at a time, the same messages.
		var got [2][]string
		defer func(w int) { wholeFile = w }(wholeFile)
		for k, whole := range []int{64 << 20, 0} {
			wholeFile = whole
			if err := Read(p, func(name string, raw []byte) error {
				got[k] = append(got[k], name+"\x00"+string(raw))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got[0], got[1]) {
			t.Fatalf("in memory %q\nstreamed %q", got[0], got[1])
		}
		n, total := len(got[0]), 0
		for _, m := range got[0] {
			_, raw, _ := strings.Cut(m, "\x00")
			total += len(raw)
		}
		// Splitting drops at most one line end between messages, nothing else.
		if n == 0 || total > len(data) || total < len(data)-2*(n-1) {
			t.Errorf("%d messages of %d bytes from %d bytes", n, total, len(data))
		}
	})
}
