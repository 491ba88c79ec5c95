// Package seeds gives fuzz targets their seed inputs from files kept in a
// package's testdata.
package seeds

import (
	"os"
	"path/filepath"
	"testing"
)

// AddFiles adds the contents of every file matching pattern as a seed of
// f, and fails the target when one cannot be read.
func AddFiles(f *testing.F, pattern string) {
	f.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
