package resolver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"strconv"
	"strings"
	"testing"

	"mailguard/internal/testutil/gofiles"
)

// TestOnlyResolverImportsDNSLibrary keeps the DNS library behind this
// package: every other package asks through Resolver and the helpers here,
// so there is one place that reads answers (and one set of bugs). The test
// DNS server is the one other user.
func TestOnlyResolverImportsDNSLibrary(t *testing.T) {
	const lib = "github.com/miekg/dns"
	allowed := map[string]bool{"resolver": true, "internal/testutil/dnstest": true}
	gofiles.Walk(t, "..", gofiles.Options{Tests: true, Mode: parser.ImportsOnly}, func(rel string, _ *token.FileSet, f *ast.File) {
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if (p == lib || strings.HasPrefix(p, lib+"/")) && !allowed[path.Dir(rel)] {
				t.Errorf("%s imports %s; ask through mailguard/resolver instead", rel, p)
			}
		}
	})
}
