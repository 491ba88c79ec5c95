package mailfiles

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzRead(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody\n"))
	f.Add([]byte("From a@b Thu Aug 22 12:34:56 2002\nSubject: a\n\nx\n\nFrom c@d Thu Aug 22 12:34:56 2002\n\ny\n"))
	f.Add([]byte("From a@b Thu Aug 22 12:34:56 2002\r\n\r\nFrom c@d Thu Aug 22 12:34:56 2002\r\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "m")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, total := 0, 0
		if err := Read(p, func(name string, raw []byte) error {
			n++
			total += len(raw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Splitting drops at most one line end between messages, nothing else.
		if n == 0 || total > len(data) || total < len(data)-2*(n-1) {
			t.Errorf("%d messages of %d bytes from %d bytes", n, total, len(data))
		}
	})
}
