package uribl

import (
	"strings"
	"testing"

	"mailguard/internal/testutil/seeds"
)

// FuzzExtract: whatever a message holds, extraction ends, and every name
// it would ask a list about is a lower-case dotted name of safe
// characters (nothing a sender writes reaches the DNS otherwise), reduced
// to a registrable domain it ends with.
func FuzzExtract(f *testing.F) {
	seeds.AddFiles(f, "testdata/*.eml")
	for _, s := range []string{
		"Subject: x\r\n\r\nhxxp://a[.]example[.]com http://[::1]/ http://1.2.3.4:80/ %2Fx.com",
		"Content-Type: text/html\r\n\r\n<a href='http://xn--bcher-kva.example.com/?u=http%3A%2F%2Fb.com'>",
		"Subject: x\r\n\r\nhttp://ü.com。net．org http://\x00.com",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		links := Extract(raw)
		if len(links.Items) > maxItems {
			t.Fatalf("%d items", len(links.Items))
		}
		for _, it := range links.Items {
			if it.IP.IsValid() {
				continue
			}
			for _, name := range []string{it.Host, it.Domain} {
				if name == "" || name != strings.ToLower(name) || !strings.Contains(name, ".") || strings.Contains(name, "..") || len(name) > 253 {
					t.Fatalf("bad name %q", name)
				}
				for _, r := range name {
					if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
						t.Fatalf("name %q has %q", name, r)
					}
				}
			}
			if !strings.HasSuffix(it.Host, it.Domain) {
				t.Fatalf("domain %q is not a suffix of host %q", it.Domain, it.Host)
			}
		}
	})
}
