package resolver

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyResolverImportsDNSLibrary keeps the DNS library behind this
// package: every other package asks through Resolver and the helpers here,
// so there is one place that reads answers (and one set of bugs). The test
// DNS server is the one other user.
func TestOnlyResolverImportsDNSLibrary(t *testing.T) {
	const lib = "github.com/miekg/dns"
	allowed := map[string]bool{"resolver": true, "internal/testutil/dnstest": true}
	root := ".."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if (p == lib || strings.HasPrefix(p, lib+"/")) && !allowed[filepath.ToSlash(rel)] {
				t.Errorf("%s imports %s; ask through mailguard/resolver instead", filepath.ToSlash(path), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d Go files found under %s; is the module root where the test expects it?", checked, root)
	}
}
