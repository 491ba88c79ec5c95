package attachments

import (
	"strings"
	"testing"

	"mailguard/internal/testutil/seeds"
)

// FuzzInspect: whatever a message and its archives hold, the walk ends
// within its limits, and every finding names a file and a class.
func FuzzInspect(f *testing.F) {
	seeds.AddFiles(f, "testdata/*.eml")
	f.Add(message(part{"Content-Type: application/zip; name=a.zip", zipOf(f, file{name: "x.js", data: []byte("a")}, file{name: "y.zip", data: zipOf(f, file{name: "z.exe"})})}))
	f.Add(message(part{"Content-Type: application/gzip; name=a.tgz", tarGzOf(f, file{name: "a/b.vbs", data: []byte("x")})}))
	f.Add(message(part{"Content-Type: image/png", peBytes()}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := WalkLimits{MaxDepth: 3, MaxFiles: 50, MaxExpandedBytes: 1 << 20}
		rep := Inspect(raw, lim, DefaultExtensions())
		if rep.Expanded > lim.MaxExpandedBytes {
			t.Fatalf("expanded %d bytes", rep.Expanded)
		}
		if rep.Files > lim.MaxFiles+1 {
			t.Fatalf("%d files", rep.Files)
		}
		for _, fd := range rep.Findings {
			if fd.File == "" || fd.Why == "" || fd.Class == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
			q := Quote(fd.File)
			if strings.ContainsAny(q, "\r\n\x00") || len(q) > 1000 {
				t.Fatalf("Quote(%q) = %q", fd.File, q)
			}
			if d := detail(fd.File); strings.ContainsAny(d, " \r\n,[]=") {
				t.Fatalf("detail(%q) = %q", fd.File, d)
			}
		}
	})
}

// FuzzZipEntries: the end-of-directory reader never reads out of bounds.
func FuzzZipEntries(f *testing.F) {
	f.Add(zipOf(f, file{name: "a", data: []byte("b")}))
	f.Add([]byte("PK\x05\x06"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, ok := zipEntries(b); ok && (n < 0 || n > 0xffff) {
			t.Fatalf("%d entries", n)
		}
	})
}
