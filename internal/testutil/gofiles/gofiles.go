// Package gofiles walks the module's Go sources for the tests that hold the
// code to a rule of where something may be done (only resolver/ imports the
// DNS library, only mimeparse/ parses media types, only filters/reply.go
// declares replies).
package gofiles

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Options says which files Walk reads and how.
type Options struct {
	// Tests includes the _test.go files.
	Tests bool
	// Skip are folders not walked, relative to the root, with forward
	// slashes ("third_party", "internal/testutil").
	Skip []string
	// Mode is go/parser's mode (parser.ImportsOnly reads the imports
	// alone).
	Mode parser.Mode
}

// minFiles is fewer Go files than the module holds: a walk that finds
// fewer did not start at the module's root.
const minFiles = 100

// Walk parses each Go file under root, the module's root, and hands it to
// fn with its path relative to root (forward slashes). Hidden folders, those
// starting with "_", testdata, vendor and o.Skip are not walked. t fails
// when a file does not parse or when fewer than 100 files are found.
func Walk(t testing.TB, root string, o Options, fn func(rel string, fset *token.FileSet, f *ast.File)) {
	t.Helper()
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "vendor" || slices.Contains(o.Skip, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || !o.Tests && strings.HasSuffix(name, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, o.Mode)
		if err != nil {
			return err
		}
		found++
		fn(rel, fset, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < minFiles {
		t.Fatalf("only %d Go files found under %s; is the module root where the test expects it?", found, root)
	}
}
