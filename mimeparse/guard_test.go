package mimeparse

import (
	"go/ast"
	"go/token"
	"testing"

	"mailguard/internal/testutil/gofiles"
)

// TestOnlyMimeparseParsesMediaTypes keeps the lenient reading of
// Content-Type and Content-Disposition here: a package calling
// mime.ParseMediaType itself is growing a parser of its own, which will
// read a broken header differently from the checks that walk the message
// (the third_party copy of go-smtp is not mailguard's code).
func TestOnlyMimeparseParsesMediaTypes(t *testing.T) {
	gofiles.Walk(t, "..", gofiles.Options{Skip: []string{"third_party", "mimeparse"}}, func(_ string, fset *token.FileSet, f *ast.File) {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "ParseMediaType" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "mime" {
				t.Errorf("%s calls mime.ParseMediaType; use mailguard/mimeparse", fset.Position(sel.Pos()))
			}
			return true
		})
	})
}
