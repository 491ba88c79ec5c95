package filters

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds the testdata messages and, when present, every message of
// the shared corpus as seeds of a fuzz target. The corpus's 6,000 seeds
// are left out of a -short run that is not fuzzing.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "checks", "*.eml"))
	fuzzing := false
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		fuzzing = true
	}
	if dir := findCorpus(); dir != "" && (fuzzing || !testing.Short()) {
		for _, label := range []string{"ham", "spam"} {
			more, _ := filepath.Glob(filepath.Join(dir, label, "*"))
			files = append(files, more...)
		}
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(stripEnvelopeLine(b))
	}
}

// findCorpus is corpusDir without the skipping: fuzz targets run on their
// small seeds when the corpus is absent.
func findCorpus() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "spamassassin")
	if _, err := os.Stat(filepath.Join(c, "ham")); err != nil {
		return ""
	}
	return c
}

// FuzzSpool feeds arbitrary bytes through the spool (in memory and
// spilled to a file) and the header parser.
func FuzzSpool(f *testing.F) {
	addSeeds(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, faults := ParseHeader(bytes.NewReader(b))
		for _, fl := range h {
			if !ValidFieldName([]byte(fl.Name)) {
				t.Errorf("field name %q is not a valid name", fl.Name)
			}
			if strings.ContainsAny(fl.Value, "\r\n") {
				t.Errorf("value %q not unfolded", fl.Value)
			}
			if len(fl.Raw) == 0 || !bytes.Contains(b, fl.Raw) {
				t.Errorf("raw %q is not a piece of the input", fl.Raw)
			}
		}
		for _, s := range faults {
			if !strings.HasPrefix(s, "line ") {
				t.Errorf("fault %q does not name its line", s)
			}
		}
		for _, memLimit := range []int{len(b) + 1, 7} {
			s := NewSpool(SpoolConfig{MemLimit: memLimit, Dir: dir})
			// Written in uneven pieces, as DATA arrives.
			piece := 13
			if len(b) > 4096 {
				piece = 1021
			}
			for i := 0; i < len(b); i += piece {
				if _, err := s.Write(b[i:min(i+piece, len(b))]); err != nil {
					t.Fatal(err)
				}
			}
			m, err := s.Message()
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(len(b)) || m.HeaderLen > m.Size {
				t.Errorf("size %d header %d for %d bytes", m.Size, m.HeaderLen, len(b))
			}
			if m.HasNUL != (bytes.IndexByte(b, 0) >= 0) {
				t.Errorf("HasNUL = %v", m.HasNUL)
			}
			if len(m.Header) != len(h) || len(m.HeaderFaults) != len(faults) {
				t.Errorf("spool parsed %d fields %d faults, parser %d and %d", len(m.Header), len(m.HeaderFaults), len(h), len(faults))
			}
			rc, err := m.Open()
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.ReadFrom(rc)
			rc.Close()
			if !bytes.Equal(got.Bytes(), b) {
				t.Errorf("spool gave back %d bytes, not the %d written", got.Len(), len(b))
			}
			s.Close()
		}
	})
}

// FuzzMIMEWalk runs the whole message check on arbitrary messages, with
// small MIME limits so that they are reached: it must never panic, and it
// either passes with scores or rejects with 550 5.6.0.
func FuzzMIMEWalk(f *testing.F) {
	addSeeds(f)
	c := testChecks(ChecksConfig{MIME: MIMELimits{MaxDepth: 4, MaxParts: 16, MaxDecodedBytes: 4096}})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMessage(b)
		v := c.CheckMessage(context.Background(), outsideTx(), m)
		switch v.Action {
		case Continue:
		case Reject:
			if v.Reply.Code != 550 || v.Reply.Enhanced != "5.6.0" || strings.ContainsAny(v.Reply.Text, "\r\n") {
				t.Errorf("reject with %q", v.Reply)
			}
		default:
			t.Errorf("action %v", v.Action)
		}
		fs, err := walkBody(context.Background(), m, MIMELimits{MaxDepth: 4, MaxParts: 16, MaxDecodedBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if fs.parts > 17 {
			t.Errorf("walked %d parts past the limit of 16", fs.parts)
		}
		if bytes.Contains(b[m.HeaderLen:], []byte(gtubeString)) && !fs.gtube {
			t.Errorf("GTUBE in the raw body not found")
		}
	})
}
