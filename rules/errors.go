package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration: where it is (file, line,
// key) and what is wrong. Line is 0 when the key is not in the file (a
// missing required key, or a built-in default).
type Problem struct {
	File string
	Line int
	Key  string
	Msg  string
}

// String renders the problem as "file:line: key: message", the form
// compilers use, so editors can jump to it.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem found in one configuration. Load and Parse return
// it (as an error) rather than stopping at the first problem, so an operator
// fixes a file in one pass.
type Errors struct {
	Problems []Problem
}

// Error renders one problem a line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Errors) add(p Problem) { e.Problems = append(e.Problems, p) }

// sort puts the problems in file order; those without a line (not in the
// file) come last, in the order they were found.
func (e *Errors) sort() {
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i].Line, e.Problems[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
}
