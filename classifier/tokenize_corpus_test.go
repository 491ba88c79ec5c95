package classifier

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusTokensFile holds, for each message of the SpamAssassin corpus, a
// digest of the token list Tokenize returns for it, in order: the order
// matters, since a message past maxTokens keeps its first tokens.
const corpusTokensFile = "testdata/corpus-tokens.txt"

// tokensDigest is 48 bits of the SHA-256 of the tokens, in order, each
// ended by a NUL.
func tokensDigest(toks []string) string {
	d := sha256.New()
	for _, tok := range toks {
		d.Write([]byte(tok))
		d.Write([]byte{0})
	}
	return hex.EncodeToString(d.Sum(nil)[:6])
}

// corpusKey names a corpus message by its folder and the first 14
// characters of its file name (number and the start of its digest).
func corpusKey(label, name string) string {
	if len(name) > 14 {
		name = name[:14]
	}
	return label + "/" + name
}

// TestTokenizeCorpusUnchanged holds Tokenize to the token lists it gave
// every message of the SpamAssassin corpus when the file was written:
// work on the tokenizer's speed must not change what the classifier
// learnt from (a change in tokens is a change in accuracy, measured on
// three splits before it is made). -update rewrites the digests.
func TestTokenizeCorpusUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("tokenizes the whole corpus")
	}
	dir := corpusDir(t)
	got := map[string]string{}
	var keys []string
	for _, label := range []string{"ham", "spam"} {
		names, err := filepath.Glob(filepath.Join(dir, label, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			raw, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			k := corpusKey(label, filepath.Base(n))
			if _, dup := got[k]; dup {
				t.Fatalf("two corpus files named %s", k)
			}
			got[k] = tokensDigest(Tokenize(raw))
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if *update {
		var sb strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&sb, "%s %s\n", k, got[k])
		}
		if err := os.WriteFile(corpusTokensFile, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(corpusTokensFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TokenizeCorpusUnchanged -update to create it)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	checked, changed := 0, 0
	for sc.Scan() {
		k, want, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", corpusTokensFile, sc.Text())
		}
		g, ok := got[k]
		if !ok {
			continue // a corpus without this message
		}
		checked++
		if g != want {
			changed++
			if changed <= 10 {
				t.Errorf("%s: the tokens changed", k)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < len(got)/2 {
		t.Fatalf("only %d of the corpus's %d messages have digests in %s: a different corpus?", checked, len(got), corpusTokensFile)
	}
	if changed > 0 {
		t.Errorf("%d of %d messages tokenize differently; if that is meant (and measured), run go test -run TokenizeCorpusUnchanged -update", changed, checked)
	}
}

// The tokens of a message stay as they were while the pooled tokenizer
// goes on with other messages: their bytes are never reused.
func TestTokensOutliveTokenizer(t *testing.T) {
	msgs := readGlob(t, "testdata/*.eml", 0)
	if len(msgs) < 2 {
		t.Fatalf("%d samples in testdata, want 2 or more", len(msgs))
	}
	first := Tokenize(msgs[0])
	want := make([]string, len(first))
	for i, tok := range first {
		want[i] = strings.Clone(tok)
	}
	for range 20 {
		for _, m := range msgs[1:] {
			Tokenize(m)
		}
	}
	if !slices.Equal(first, want) {
		t.Fatal("tokens changed after the tokenizer went on with other messages")
	}
}
