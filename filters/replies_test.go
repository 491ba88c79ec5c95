package filters

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailguard/internal/testutil/gofiles"
)

var update = flag.Bool("update", false, "rewrite testdata/replies.golden from reply.go")

const repliesGolden = "testdata/replies.golden"

// declaredReplies reads the Reply values declared in reply.go, in order:
// name, then the reply. Every one must be a literal, so the list is the
// wire behaviour as written.
func declaredReplies(t *testing.T) (names []string, replies []Reply) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "reply.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Reply") {
					continue
				}
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok || len(lit.Elts) != 3 {
					t.Fatalf("%s is not a Reply{code, enhanced, text} literal", n.Name)
				}
				var parts [3]string
				for j, e := range lit.Elts {
					b, ok := e.(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: element %d is not a literal", n.Name, j)
					}
					parts[j] = b.Value
				}
				code, err1 := strconv.Atoi(parts[0])
				enh, err2 := strconv.Unquote(parts[1])
				text, err3 := strconv.Unquote(parts[2])
				if err1 != nil || err2 != nil || err3 != nil {
					t.Fatalf("%s: cannot read %v", n.Name, parts)
				}
				names = append(names, n.Name)
				replies = append(replies, Reply{code, enh, text})
			}
		}
	}
	return names, replies
}

// TestRepliesGolden lists every reply the gateway can send in
// testdata/replies.golden (name, code, enhanced code, text); run with
// -update after changing reply.go, and review the diff: it is the wire
// behaviour.
func TestRepliesGolden(t *testing.T) {
	names, replies := declaredReplies(t)
	if len(replies) < 30 {
		t.Fatalf("only %d replies read from reply.go", len(replies))
	}
	var b bytes.Buffer
	b.WriteString("# Every reply the gateway sends, from filters/reply.go: name, code, enhanced code, text.\n")
	b.WriteString("# %s is filled in when the reply is sent. Regenerate: go test ./filters -run TestRepliesGolden -update\n")
	for i, r := range replies {
		fmt.Fprintf(&b, "%s\t%d\t%s\t%s\n", names[i], r.Code, r.Enhanced, r.Text)
	}
	if *update {
		if err := os.WriteFile(repliesGolden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(repliesGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("%s is out of date with reply.go; run with -update and review the diff", repliesGolden)
	}
}

// TestDocumentedRepliesAreDeclared checks the documentation's reply tables
// against the code: every "code enhanced" pair a table row shows is one
// reply.go declares.
func TestDocumentedRepliesAreDeclared(t *testing.T) {
	_, replies := declaredReplies(t)
	declared := map[string]bool{}
	for _, r := range replies {
		declared[fmt.Sprintf("%d %s", r.Code, r.Enhanced)] = true
	}
	re := regexp.MustCompile("`([245][0-9][0-9] [245]\\.[0-9]{1,3}\\.[0-9]{1,3})")
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md")
	seen := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "|") {
				continue
			}
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				seen++
				if !declared[m[1]] {
					t.Errorf("%s:%d shows the reply %q, which filters/reply.go does not declare", path, i+1, m[1])
				}
			}
		}
	}
	if seen < 10 {
		t.Errorf("only %d replies found in the documentation's tables", seen)
	}
}

// TestRepliesDeclaredOnlyHere fails when code outside reply.go writes an
// SMTP reply with a literal code (filters.Reply or go-smtp's SMTPError):
// such a reply would be missing from the golden file and the docs check.
// The relay's stand-in for the backend's own 250 is the one exception: it
// is what the backend said, never sent to a client as is.
func TestRepliesDeclaredOnlyHere(t *testing.T) {
	allowed := map[string]bool{"relay/relay.go": true, "filters/reply.go": true}
	gofiles.Walk(t, "..", gofiles.Options{Skip: []string{"third_party", "internal/testutil"}}, func(rel string, fset *token.FileSet, f *ast.File) {
		if allowed[rel] {
			return
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || !isReplyType(lit.Type) {
				return true
			}
			for _, e := range lit.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
						e = kv.Value
					} else {
						continue
					}
				}
				if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.INT {
					t.Errorf("%s: a reply with the literal code %s; declare it in filters/reply.go", fset.Position(lit.Pos()), b.Value)
				}
				break
			}
			return true
		})
	})
}

func isReplyType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Reply"
	case *ast.SelectorExpr:
		return e.Sel.Name == "Reply" || e.Sel.Name == "SMTPError"
	}
	return false
}
