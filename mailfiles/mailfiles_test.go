package mailfiles

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type msg struct{ name, raw string }

func readAll(t *testing.T, path string) []msg {
	t.Helper()
	var out []msg
	if err := Read(path, func(name string, raw []byte) error {
		out = append(out, msg{name, string(raw)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	const (
		env1 = "From alice@example.org Thu Aug 22 12:34:56 2002\n"
		env2 = "From bob@example.org  Fri Aug 23 01:02:03 2002\n"
		m1   = "From: alice@example.org\nSubject: one\n\nbody\nFrom here on a line that is no envelope\n"
		m2   = "From: bob@example.org\nSubject: two\n\nFrom the desk of the director\n\nFrom nowhere\n"
	)
	cases := []struct {
		name, content string
		want          []msg
	}{
		{"plain", m1, []msg{{"plain", m1}}},
		{"empty", "", []msg{{"empty", ""}}},
		{"one", env1 + m1, []msg{{"one", env1 + m1}}},
		{"two", env1 + m1 + "\n" + env2 + m2, []msg{{"two#1", env1 + m1}, {"two#2", env2 + m2}}},
		{"crlf", strings.ReplaceAll(env1+m1+"\n"+env2+m2, "\n", "\r\n"), []msg{
			{"crlf#1", strings.ReplaceAll(env1+m1, "\n", "\r\n")},
			{"crlf#2", strings.ReplaceAll(env2+m2, "\n", "\r\n")}}},
		// An envelope line not after an empty line is body text.
		{"glued", env1 + m1 + env2 + m2, []msg{{"glued", env1 + m1 + env2 + m2}}},
	}
	for _, c := range cases {
		for i := range c.want {
			c.want[i].name = filepath.Join(dir, c.want[i].name)
		}
		p := write(t, filepath.Join(dir, c.name), c.content)
		// Split in memory, and a line at a time as large files are.
		for _, whole := range []int{64 << 20, 0} {
			t.Run(fmt.Sprintf("%s/%d", c.name, whole), func(t *testing.T) {
				defer func(w int) { wholeFile = w }(wholeFile)
				wholeFile = whole
				got := readAll(t, p)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %q\nwant %q", got, c.want)
				}
			})
		}
	}
}

func TestReadLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	content := "From a@b Thu Aug 22 12:34:56 2002\nSubject: a\n\n" + long + "\n\nFrom c@d Thu Aug 22 12:34:56 2002\nSubject: b\n\nshort\n"
	p := write(t, filepath.Join(t.TempDir(), "mbox"), content)
	defer func(w int) { wholeFile = w }(wholeFile)
	for _, whole := range []int{64 << 20, 0} {
		wholeFile = whole
		got := readAll(t, p)
		if len(got) != 2 || !strings.Contains(got[0].raw, long) || !strings.Contains(got[1].raw, "short") {
			t.Errorf("wholeFile %d: got %d messages", whole, len(got))
		}
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b", "2"), "x")
	write(t, filepath.Join(dir, "b", "1"), "xy")
	write(t, filepath.Join(dir, "a"), "xyz")
	write(t, filepath.Join(dir, ".hidden"), "x")
	write(t, filepath.Join(dir, "b", ".git", "config"), "x")
	single := write(t, filepath.Join(t.TempDir(), "single"), "1234")
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	got, err := List([]string{single, dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{single, 4}, {filepath.Join(dir, "a"), 3}, {filepath.Join(dir, "b", "1"), 2}, {filepath.Join(dir, "b", "2"), 1}, {filepath.Join(dir, "c"), 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v\nwant %v", got, want)
	}
	if _, err := List([]string{filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}

func TestProcessKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	var files []File
	var want []string
	for i := range 50 {
		var content string
		if i%10 == 3 { // an mbox of three
			for j := range 3 {
				content += fmt.Sprintf("From x@y Thu Aug 22 12:34:56 2002\nSubject: %d.%d\n\nbody\n\n", i, j)
				want = append(want, fmt.Sprintf("Subject: %d.%d", i, j))
			}
		} else {
			content = fmt.Sprintf("Subject: %d\n\nbody\n", i)
			want = append(want, fmt.Sprintf("Subject: %d", i))
		}
		p := write(t, filepath.Join(dir, fmt.Sprintf("%02d", i)), content)
		files = append(files, File{Path: p, Size: int64(len(content))})
	}
	files = append(files, File{Path: filepath.Join(dir, "gone")})
	var got []string
	var failed []string
	var read int64
	err := Process(context.Background(), Config{Workers: 4, Progress: func(n int64) { read += n }}, files,
		func(name string, raw []byte) string {
			for _, l := range strings.Split(string(raw), "\n") {
				if strings.HasPrefix(l, "Subject: ") {
					return l
				}
			}
			return ""
		},
		func(name string, v string, err error) error {
			if err != nil {
				failed = append(failed, name)
				return nil
			}
			got = append(got, v)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results out of order or missing:\n%v\nwant\n%v", got, want)
	}
	if len(failed) != 1 || failed[0] != filepath.Join(dir, "gone") {
		t.Errorf("failed = %v", failed)
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	if read != total {
		t.Errorf("progress saw %d bytes, want %d", read, total)
	}
	// An error from emit stops the run and comes back.
	stop := errors.New("stop")
	n := 0
	err = Process(context.Background(), Config{Workers: 2}, files, func(string, []byte) int { return 0 },
		func(string, int, error) error {
			n++
			if n == 5 {
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) || n != 5 {
		t.Errorf("Process = %v after %d results, want stop after 5", err, n)
	}
}
