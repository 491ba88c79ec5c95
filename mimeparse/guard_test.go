package mimeparse

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyMimeparseParsesMediaTypes keeps the lenient reading of
// Content-Type and Content-Disposition here: a package calling
// mime.ParseMediaType itself is growing a parser of its own, which will
// read a broken header differently from the checks that walk the message
// (the third_party copy of go-smtp is not mailguard's code).
func TestOnlyMimeparseParsesMediaTypes(t *testing.T) {
	root := ".."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "third_party" || name == "mimeparse") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
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
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d Go files found under %s; is the module root where the test expects it?", checked, root)
	}
}
