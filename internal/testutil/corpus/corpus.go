// Package corpus reads the SpamAssassin public corpus kept beside the
// repository (../shared/corpus/spamassassin, folders ham/ and spam/), for
// the tests and benchmarks that measure on real mail. Where it is absent
// they skip, saying where it was looked for.
package corpus

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is the corpus's folder, whether or not it exists.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "corpus", "spamassassin")
}

// Read returns up to n messages (all when n <= 0) of one class, "ham" or
// "spam", in file name order. tb is skipped when the folder holds none and
// fails on a file it cannot read.
func Read(tb testing.TB, class string, n int) [][]byte {
	tb.Helper()
	dir := filepath.Join(Dir(), class)
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out [][]byte
	for _, name := range names {
		if n > 0 && len(out) == n {
			break
		}
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		tb.Skipf("corpus not found at %s (the SpamAssassin public corpus)", dir)
	}
	return out
}
