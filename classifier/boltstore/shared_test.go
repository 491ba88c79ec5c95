package boltstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailguard/classifier"
)

// While a gateway uses the store, another process (here another handle,
// which bbolt locks the same way) can learn into it between messages, and
// the gateway sees what it learnt.
func TestSharedLetsOthersLearnBetweenCalls(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	sh := OpenShared(Config{Path: path})

	counts, totals, err := sh.Counts(ctx, []string{"a"})
	if err != nil || totals != (classifier.Totals{}) || len(counts) != 1 || counts[0] != (classifier.Counts{}) {
		t.Fatalf("a store never written: counts %v totals %v err %v; want empty", counts, totals, err)
	}
	if _, err := sh.Learn(ctx, classifier.Doc{Digest: "m1", Spam: true, Tokens: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}

	other, err := Open(Config{Path: path, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("another writer could not open the file the gateway uses: %v", err)
	}
	if _, err := other.Learn(ctx, classifier.Doc{Digest: "m2", Spam: false, Tokens: []string{"a", "c"}}); err != nil {
		t.Fatal(err)
	}

	// While the other writer holds the file, the gateway's read gives up
	// after its lock timeout instead of hanging.
	busy := OpenShared(Config{Path: path, LockTimeout: 100 * time.Millisecond})
	if _, _, err := busy.Counts(ctx, []string{"a"}); err == nil {
		t.Fatal("a read while another process writes must fail after the lock timeout")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	counts, totals, err = sh.Counts(ctx, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if totals != (classifier.Totals{Spam: 1, Ham: 1}) {
		t.Errorf("totals = %+v, want 1 spam and 1 ham", totals)
	}
	want := []classifier.Counts{{Spam: 1, Ham: 1}, {Spam: 1}, {Ham: 1}}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
}

func BenchmarkSharedCounts(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), FileName)
	sh := OpenShared(Config{Path: path})
	var docs []classifier.Doc
	for i := range 2000 {
		toks := make([]string, 200)
		for j := range toks {
			toks[j] = fmt.Sprintf("t%d", (i*7+j*13)%50000)
		}
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint(i), Spam: i%2 == 0, Tokens: toks})
	}
	if _, err := sh.Learn(ctx, docs...); err != nil {
		b.Fatal(err)
	}
	st, err := Open(Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	q := docs[3].Tokens
	b.Run("held open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := st.Counts(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	st.Close()
	b.Run("shared snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := sh.Counts(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What the gateway did before it kept a snapshot.
	b.Run("opened per call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st, err := Open(Config{Path: path, ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := st.Counts(ctx, q); err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
	})
}

// The gateway reads the token table from memory: scoring many messages
// opens the database once, and opens it again only after a commit.
func TestSharedDoesNotReopenPerMessage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	sh := OpenShared(Config{Path: path})
	if _, err := sh.Learn(ctx, classifier.Doc{Digest: "m1", Spam: true, Tokens: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	base := sh.Opens()
	for range 200 {
		if _, _, err := sh.Counts(ctx, []string{"a", "b", "z"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := sh.Opens() - base; got != 1 {
		t.Fatalf("200 messages opened the token database %d times, want once", got)
	}

	// Another process commits: the next message sees it, with one more open.
	other, err := Open(Config{Path: path, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Learn(ctx, classifier.Doc{Digest: "m2", Spam: false, Tokens: []string{"a", "c"}}); err != nil {
		t.Fatal(err)
	}
	// While the other process holds the file, the snapshot still answers.
	if _, totals, err := sh.Counts(ctx, []string{"a"}); err != nil || totals != (classifier.Totals{Spam: 1}) {
		t.Fatalf("while another process holds the file: totals %+v err %v; want the last snapshot", totals, err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	before := sh.Opens()
	for range 50 {
		counts, totals, err := sh.Counts(ctx, []string{"a", "c"})
		if err != nil {
			t.Fatal(err)
		}
		if totals != (classifier.Totals{Spam: 1, Ham: 1}) || counts[1] != (classifier.Counts{Ham: 1}) {
			t.Fatalf("after another process learnt: counts %v totals %+v", counts, totals)
		}
	}
	if got := sh.Opens() - before; got != 1 {
		t.Fatalf("after one commit by another process, 50 messages opened the database %d times, want once", got)
	}
}

// A token database put in the place of the one read (a restored copy,
// renamed over it) is what the next message is scored from, and so is
// its removal.
func TestSharedFollowsReplacedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	sh := OpenShared(Config{Path: path})
	defer sh.Close()
	if _, err := sh.Learn(ctx, classifier.Doc{Digest: "m1", Spam: true, Tokens: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if _, totals, err := sh.Counts(ctx, []string{"a"}); err != nil || totals != (classifier.Totals{Spam: 1}) {
		t.Fatalf("first file: totals %+v err %v", totals, err)
	}
	other := filepath.Join(dir, "copy.db")
	st, err := Open(Config{Path: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Learn(ctx, classifier.Doc{Digest: "h1", Tokens: []string{"b"}}, classifier.Doc{Digest: "h2", Tokens: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	counts, totals, err := sh.Counts(ctx, []string{"a", "b"})
	if err != nil || totals != (classifier.Totals{Ham: 2}) || counts[0] != (classifier.Counts{}) || counts[1] != (classifier.Counts{Ham: 2}) {
		t.Fatalf("after the file was replaced: counts %v totals %+v err %v", counts, totals, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, totals, err := sh.Counts(ctx, []string{"b"}); err != nil || totals != (classifier.Totals{}) {
		t.Fatalf("after the file was removed: totals %+v err %v", totals, err)
	}
}
