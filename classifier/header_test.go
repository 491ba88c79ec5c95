package classifier

import "testing"

func TestUnfoldBytes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"no breaks", "no breaks"},
		{" a value\r\n folded\r\n\tтwice\r\n", " a value folded\tтwice"},
		{"lf only\n continued\n", "lf only continued"},
		{"stray\rcr and\n\n\r\rmany", "straycr andmany"},
	} {
		if got := string(unfoldBytes([]byte(c.in))); got != c.want {
			t.Errorf("unfoldBytes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
