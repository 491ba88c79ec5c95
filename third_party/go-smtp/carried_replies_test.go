package smtp_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"reflect"
	"testing"

	"github.com/emersion/go-smtp"
)

// MAIL, RCPT and NOOP are answered as Postfix answers them, with RFC
// 3463's codes and without echoing the client's address back.
func TestPlainReplies(t *testing.T) {
	_, s, c, scanner, _ := testServerEhlo(t)
	defer s.Close()
	defer c.Close()
	for _, tc := range []struct{ cmd, want string }{
		{"MAIL FROM:<a@example.com>", "250 2.1.0 Ok"},
		{"RCPT TO:<u@example.org>", "250 2.1.5 Ok"},
		{"NOOP", "250 2.0.0 Ok"},
	} {
		io.WriteString(c, tc.cmd+"\r\n")
		scanner.Scan()
		if got := scanner.Text(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// The server's own replies come from Server.Replies: conn.go and server.go
// write no reply code or text of their own, so a caller's table covers
// every reply the server can send. Format arguments (a command or
// parameter name) may be literals; codes and texts may not.
func TestRepliesOnlyFromTable(t *testing.T) {
	writers := map[string]bool{"writeResponse": true, "writeResponseLines": true, "writeError": true}
	tableWriters := map[string]bool{"writeReply": true, "protocolError": true}
	literalTypes := map[string]bool{"SMTPError": true, "Reply": true, "EnhancedCode": true}
	for _, file := range []string{"conn.go", "server.go"} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, _ := d.(*ast.FuncDecl)
			// writeResponseLines puts in RFC 3463's generic X.0.0 for a
			// reply without an enhanced code; that is no reply of its own.
			inLines := fn != nil && fn.Name.Name == "writeResponseLines"
			ast.Inspect(d, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					name := sel.Sel.Name
					switch {
					case writers[name]:
						for _, a := range n.Args {
							if lit := firstLiteral(a); lit != nil {
								t.Errorf("%s: %s writes the literal %s; take the reply from Replies", fset.Position(lit.Pos()), name, lit.Value)
							}
						}
					case tableWriters[name]:
						if len(n.Args) == 0 {
							break
						}
						if lit := firstLiteral(n.Args[0]); lit != nil {
							t.Errorf("%s: %s writes the literal %s; take the reply from Replies", fset.Position(lit.Pos()), name, lit.Value)
						}
					}
				case *ast.CompositeLit:
					id, ok := n.Type.(*ast.Ident)
					if !ok || !literalTypes[id.Name] || inLines && id.Name == "EnhancedCode" {
						return true
					}
					for _, e := range n.Elts {
						if lit := firstLiteral(e); lit != nil {
							t.Errorf("%s: a %s literal holding %s; declare the reply in Replies", fset.Position(lit.Pos()), id.Name, lit.Value)
							break
						}
					}
				case *ast.Ident:
					if n.Name == "NoEnhancedCode" && !inLines {
						t.Errorf("%s: a reply without enhanced code written directly; declare it in Replies", fset.Position(n.Pos()))
					}
				}
				return true
			})
		}
	}
}

func firstLiteral(n ast.Node) *ast.BasicLit {
	var found *ast.BasicLit
	ast.Inspect(n, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && found == nil {
			found = lit
		}
		return found == nil
	})
	return found
}

// Every reply has a default, and a table that sets some fields keeps the
// defaults of the others.
func TestDefaultRepliesComplete(t *testing.T) {
	d := reflect.ValueOf(smtp.DefaultReplies())
	for i := 0; i < d.NumField(); i++ {
		if d.Field(i).IsZero() {
			t.Errorf("DefaultReplies has no %s", d.Type().Field(i).Name)
		}
	}
}

// A table the caller supplies changes the wire; the fields it leaves zero
// keep go-smtp's texts.
func TestServerReplies(t *testing.T) {
	be := new(backend)
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.Replies = &smtp.Replies{
		Greeting: smtp.Reply{Code: 220, EnhancedCode: smtp.NoEnhancedCode, Text: "%s ESMTP (%s)"},
		Noop:     smtp.Reply{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Text: "Nothing done"},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scanner := bufio.NewScanner(c)
	for _, tc := range []struct{ cmd, want string }{
		{"", "220 localhost ESMTP (ESMTP)"},
		{"NOOP", "250 2.0.0 Nothing done"},
		{"RSET", "250 2.0.0 Session reset"},
		{"HELP", "502 5.5.1 HELP command not implemented"},
	} {
		if tc.cmd != "" {
			io.WriteString(c, tc.cmd+"\r\n")
		}
		scanner.Scan()
		if got := scanner.Text(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
