package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

const root = "../.."

// docFiles are the documentation pages: README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md")}, files...)
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestRelativeLinksResolve fails on a link in README.md or docs/*.md to a
// file that does not exist, or to a heading (#anchor, as GitHub names it)
// that the page does not have.
func TestRelativeLinksResolve(t *testing.T) {
	anchors := map[string]map[string]bool{}
	headings := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		if data, err := os.ReadFile(path); err == nil {
			for _, h := range headingsOf(string(data)) {
				slug := slugify(h)
				// GitHub numbers repeated headings: slug, slug-1, ...
				for n := 0; a[slug]; n++ {
					slug = slugify(h) + "-" + string(rune('1'+n))
				}
				a[slug] = true
			}
		}
		anchors[path] = a
		return a
	}
	links := 0
	for _, file := range docFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range proseLines(string(data)) {
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d: link %s: %v", rel(file), n+1, target, err)
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(dest, ".md") && !headings(dest)[anchor] {
					t.Errorf("%s:%d: link %s: %s has no heading #%s", rel(file), n+1, target, rel(dest), anchor)
				}
			}
		}
	}
	if links < 20 {
		t.Errorf("only %d relative links found; is the test reading the right files?", links)
	}
}

// TestReadmeFirstScreen keeps what a newcomer needs first: the two
// commands, within the first screen (40 lines) of the README.
func TestReadmeFirstScreen(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	first := strings.Join(lines[:min(40, len(lines))], "\n")
	for _, cmd := range []string{"go run ./cmd/mailguard serve", "make test"} {
		if !strings.Contains(first, cmd) {
			t.Errorf("README.md's first 40 lines lack %q", cmd)
		}
	}
}

func rel(path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}

// proseLines returns the file's lines with fenced code blocks and inline
// code spans blanked, keeping line numbers.
func proseLines(s string) []string {
	lines := strings.Split(s, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
			continue
		}
		lines[i] = codeSpan.ReplaceAllString(l, "``")
	}
	return lines
}

var codeSpan = regexp.MustCompile("`[^`]*`")

func headingsOf(s string) []string {
	var out []string
	for _, l := range proseLinesKeepCode(s) {
		if strings.HasPrefix(l, "#") {
			h := strings.TrimLeft(l, "#")
			if strings.HasPrefix(h, " ") {
				out = append(out, strings.TrimSpace(h))
			}
		}
	}
	return out
}

// proseLinesKeepCode drops fenced code blocks (where "#" starts comments)
// but keeps inline code, which a heading's anchor includes.
func proseLinesKeepCode(s string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			out = append(out, l)
		}
	}
	return out
}

// slugify makes a heading's anchor as GitHub does: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func slugify(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
