package rules

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated key table of docs/configuration.md")

const configDoc = "../docs/configuration.md"

// keysTable renders every key and its default as a Markdown table.
func keysTable() string {
	var b strings.Builder
	b.WriteString("| key | default |\n| --- | --- |\n")
	for _, k := range Keys(Default()) {
		def := "`" + k.Default + "`"
		if k.Name == "hostname" {
			def = "the machine's host name (`localhost` if unusable)"
		}
		b.WriteString("| `" + k.Name + "` | " + def + " |\n")
	}
	return b.String()
}

// TestKeysDocumented checks the documentation against the configuration
// types: docs/configuration.md lists every key with its default as the
// code declares it (regenerate with -update), and every hand-written table
// in README.md and docs/*.md that has a default column states the same
// default for the keys it names.
func TestKeysDocumented(t *testing.T) {
	data, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	const begin, end = "<!-- keys:begin -->\n", "<!-- keys:end -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q ... %q markers", configDoc, begin, end)
	}
	want := doc[:i+len(begin)] + keysTable() + doc[j:]
	if *update && want != doc {
		if err := os.WriteFile(configDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		doc = want
	}
	if want != doc {
		t.Errorf("%s: the key table is out of date with the code; run go test ./rules -run TestKeysDocumented -update and review the diff", configDoc)
	}

	defaults := map[string]string{}
	for _, k := range Keys(Default()) {
		defaults[k.Name] = k.Default
	}
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md")
	checked := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		col := -1
		for n, line := range strings.Split(string(data), "\n") {
			cells := tableCells(line)
			if cells == nil {
				col = -1
				continue
			}
			if col < 0 {
				// A table's first row is its header.
				col = len(cells)
				for c, h := range cells {
					if strings.EqualFold(h, "default") {
						col = c
					}
				}
				continue
			}
			if col >= len(cells) || strings.HasPrefix(cells[0], "---") {
				continue
			}
			for _, name := range backticked(cells[0]) {
				def, ok := defaults[name]
				if !ok || name == "hostname" {
					continue
				}
				checked++
				if !strings.Contains(cells[col], "`"+def+"`") && !strings.Contains(cells[col], "`\""+def+"\"`") {
					t.Errorf("%s:%d: %s: the table says the default is %s; the code's is `%s`", path, n+1, name, cells[col], def)
				}
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d documented defaults checked", checked)
	}
}

// TestKeysCoverConfig checks that Keys walks every field of Config: a
// field without a yaml tag would be a key the file cannot set and the docs
// cannot name.
func TestKeysCoverConfig(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			if f.IsExported() && f.Tag.Get("yaml") == "" {
				t.Errorf("%s%s has no yaml tag", path, f.Name)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, path+f.Name+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "Config.")
	seen := map[string]bool{}
	for _, k := range Keys(Default()) {
		if seen[k.Name] {
			t.Errorf("key %s listed twice", k.Name)
		}
		seen[k.Name] = true
	}
	for _, name := range []string{"listen", "limits.command_timeout", "checks.scores", "quarantine.digest.every", "classifier.autolearn.spam_score"} {
		if !seen[name] {
			t.Errorf("Keys lacks %s", name)
		}
	}
}

// tableCells splits a Markdown table row into its trimmed cells, or
// returns nil for a line that is not one. Escaped pipes stay in the cell.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") {
		return nil
	}
	line = strings.ReplaceAll(line, `\|`, "\x00")
	parts := strings.Split(strings.Trim(line, "|"), "|")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.TrimSpace(p), "\x00", "|")
	}
	return parts
}

// backticked returns the code spans of s: "`tls.cert`, `tls.key`" gives
// tls.cert and tls.key.
func backticked(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
}
