package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mailguard/classifier"
	"mailguard/classifier/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) classifier.Store {
			st, err := Open(Config{Path: filepath.Join(t.TempDir(), "tokens.db")})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Reopen: func(t *testing.T, st classifier.Store) classifier.Store {
			path := st.(*Store).Path()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st2, err := Open(Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			return st2
		},
	})
}

func counts(t *testing.T, st classifier.Store, toks ...string) []classifier.Counts {
	t.Helper()
	got, _, err := st.Counts(context.Background(), toks)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// openTemp opens a store in a new file under the test's temporary
// directory, closed when the test ends.
func openTemp(t *testing.T, cfg Config) *Store {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "t.db")
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// learn learns docs into st or fails the test.
func learn(t *testing.T, st *Store, docs ...classifier.Doc) {
	t.Helper()
	if _, err := st.Learn(context.Background(), docs...); err != nil {
		t.Fatal(err)
	}
}

// numbered returns the tokens prefix0 .. prefix(n-1).
func numbered(prefix string, n int) []string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = fmt.Sprint(prefix, i)
	}
	return toks
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPruneHapaxesAndOldFirst(t *testing.T) {
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := openTemp(t, Config{MaxTokens: 100, Now: clk.now})
	// Day 1: "old" tokens seen twice, hapaxes seen once.
	var docs []classifier.Doc
	for i := range 2 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("old", i), Spam: i == 0, Tokens: []string{"old0", "old1", "old2"}})
	}
	for i := range 40 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("hapax", i), Spam: true, Tokens: []string{fmt.Sprint("hapax", i)}})
	}
	learn(t, st, docs...)
	// Thirty days later: 60 new tokens seen twice push the table over its cap.
	clk.t = clk.t.AddDate(0, 0, 30)
	docs = nil
	for i := range 2 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("new", i), Spam: false, Tokens: numbered("new", 60)})
	}
	learn(t, st, docs...)
	n, err := st.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	// 103 tokens exceed the cap of 100: pruned to 90, the 13 going being
	// hapaxes.
	if n != 90 {
		t.Errorf("tokens after pruning = %d, want 90", n)
	}
	got := counts(t, st, "old0", "new59", "hapax0")
	if got[0] != (classifier.Counts{Spam: 1, Ham: 1}) || got[1] != (classifier.Counts{Ham: 2}) {
		t.Errorf("non-hapaxes were pruned: %+v", got)
	}
	hapaxes := 0
	for _, c := range counts(t, st, numbered("hapax", 40)...) {
		if c.Spam > 0 {
			hapaxes++
		}
	}
	if hapaxes != 27 {
		t.Errorf("%d hapaxes left, want 27", hapaxes)
	}

	// Now everything is seen twice: the oldest go first.
	clk.t = clk.t.AddDate(0, 0, 30)
	docs = nil
	for i := range 2 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("newer", i), Spam: true, Tokens: numbered("newer", 20)})
	}
	learn(t, st, docs...)
	// 110 tokens: 20 go to get back to 90, all of them hapaxes (27 are
	// left), although the "old" tokens are older.
	if n, _ := st.Tokens(); n != 90 {
		t.Errorf("tokens = %d, want 90", n)
	}
	got = counts(t, st, "old0", "new0", "newer0")
	if got[0].Spam != 1 || got[1].Ham != 2 || got[2].Spam != 2 {
		t.Errorf("non-hapaxes pruned before hapaxes: %+v", got)
	}
}

func TestPruneOldestWhenNoHapaxes(t *testing.T) {
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := openTemp(t, Config{MaxTokens: 10, Now: clk.now})
	learnPair := func(prefix string, n int) {
		toks := numbered(prefix, n)
		learn(t, st,
			classifier.Doc{Digest: prefix + "a", Spam: true, Tokens: toks},
			classifier.Doc{Digest: prefix + "b", Spam: false, Tokens: toks})
		clk.t = clk.t.AddDate(0, 0, 1)
	}
	learnPair("a", 5) // day 1
	learnPair("b", 5) // day 2
	learnPair("c", 3) // day 3: 13 tokens > 10, down to 9: four of the day-1 "a" go
	if n, _ := st.Tokens(); n != 9 {
		t.Fatalf("tokens = %d, want 9", n)
	}
	got := counts(t, st, "a0", "a1", "a2", "a3", "a4", "b0", "c0")
	gone := 0
	for _, c := range got[:5] {
		if c == (classifier.Counts{}) {
			gone++
		}
	}
	if gone != 4 || got[5] == (classifier.Counts{}) || got[6] == (classifier.Counts{}) {
		t.Errorf("want the 4 oldest gone, got %+v", got)
	}
}

// A message whose token list was pruned still moves: by the tokens given.
func TestMoveAfterListPruned(t *testing.T) {
	st := openTemp(t, Config{MaxTokens: 3})
	// 4*3 = 12 listed token entries at most.
	var docs []classifier.Doc
	for i := range 5 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("m", i), Spam: true, Tokens: []string{"a", "b", "c"}})
	}
	learn(t, st, docs...)
	for i := range 5 {
		learn(t, st, classifier.Doc{Digest: fmt.Sprint("m", i), Spam: false, Tokens: []string{"a", "b", "c"}})
	}
	got := counts(t, st, "a", "b", "c")
	for i, c := range got {
		if c != (classifier.Counts{Ham: 5}) {
			t.Errorf("token %d: %+v, want all 5 moved to ham", i, c)
		}
	}
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	if _, err := Open(Config{Path: path, ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open of a missing file: %v, want ErrNotExist", err)
	}
	st, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Learn(context.Background(), classifier.Doc{Digest: "d", Spam: true, Tokens: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Two readers at once.
	r1, err := Open(Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := counts(t, r2, "x"); got[0].Spam != 1 {
		t.Errorf("read-only counts %+v", got)
	}
	if _, err := r1.Learn(context.Background(), classifier.Doc{Digest: "e", Spam: true, Tokens: []string{"x"}}); err == nil {
		t.Error("Learn on a read-only store succeeded")
	}
}

func TestEncoding(t *testing.T) {
	for i, v := range []tokenValue{{}, {1, 0, 20000}, {1 << 31, 70000, 0xffff}, {0xffffffff, 0xffffffff, 1}} {
		h := uint64(i) << 62
		b := appendEntry(nil, h, v)
		if gh, got := decodeEntry(b); len(b) != entrySize || gh != h || got != v {
			t.Errorf("token %x %+v round-trips to %x %+v", h, v, gh, got)
		}
	}
	m := messageValue{spam: true, day: 12, prefixes: []uint32{1, 1 << 31}}
	got, ok := decodeMessage(encodeMessage(m))
	if !ok || got.spam != m.spam || got.day != m.day || len(got.prefixes) != 2 || got.prefixes[1] != 1<<31 {
		t.Errorf("message round-trips to %+v", got)
	}
	if _, ok := decodeMessage([]byte{1, 2}); ok {
		t.Error("a short record decodes")
	}
}

func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t, Config{})
	learn(t, st,
		classifier.Doc{Digest: "a", Spam: true, Tokens: []string{"x", "y"}},
		classifier.Doc{Digest: "b", Spam: false, Tokens: []string{"y", "z"}})
	snap, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Later learning does not reach the snapshot.
	learn(t, st, classifier.Doc{Digest: "c", Spam: true, Tokens: []string{"z"}})
	toks := []string{"x", "y", "z", "unknown"}
	got, tot, err := snap.Counts(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	want := []classifier.Counts{{Spam: 1}, {Spam: 1, Ham: 1}, {Ham: 1}, {}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: %+v, want %+v", toks[i], got[i], want[i])
		}
	}
	if tot != (classifier.Totals{Spam: 1, Ham: 1}) {
		t.Errorf("totals %+v", tot)
	}
	if _, err := snap.Learn(ctx, classifier.Doc{Digest: "d", Tokens: []string{"x"}}); err == nil {
		t.Error("a snapshot learnt")
	}
}

// A move subtracts the tokens the message added, even when it now
// tokenizes differently (a new version of the tokenizer).
func TestMoveAfterTokenizerChange(t *testing.T) {
	st := openTemp(t, Config{})
	learn(t, st,
		classifier.Doc{Digest: "m", Spam: true, Tokens: []string{"a", "b", "c"}},
		classifier.Doc{Digest: "n", Spam: true, Tokens: []string{"c"}})
	learn(t, st, classifier.Doc{Digest: "m", Spam: false, Tokens: []string{"a", "d"}})
	got := counts(t, st, "a", "b", "c", "d")
	want := []classifier.Counts{{Ham: 1}, {}, {Spam: 1}, {Ham: 1}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("token %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if n, _ := st.Tokens(); n != 3 {
		t.Errorf("%d tokens, want 3 (b gone)", n)
	}
}

func TestTable(t *testing.T) {
	mul := uint64(0x9e3779b97f4a7c15)
	tb := newTable(100)
	for i := uint64(0); i < 100; i++ {
		tb.put(i*mul, classifier.Counts{Spam: uint32(i), Ham: 1})
	}
	tb.put(0, classifier.Counts{Spam: 7}) // the hash 0 is a key like any other
	tb.put(5*mul, classifier.Counts{Spam: 50})
	for i := uint64(1); i < 100; i++ {
		want := classifier.Counts{Spam: uint32(i), Ham: 1}
		if i == 5 {
			want = classifier.Counts{Spam: 50}
		}
		if got := tb.get(i * mul); got != want {
			t.Errorf("key %d: %+v, want %+v", i, got, want)
		}
	}
	if got := tb.get(0); got != (classifier.Counts{Spam: 7}) {
		t.Errorf("hash 0: %+v", got)
	}
	if got := tb.get(12345); got != (classifier.Counts{}) {
		t.Errorf("absent key: %+v", got)
	}
}

func TestSortHashes(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000, 100000} {
		a := make([]uint64, n)
		x := uint64(88172645463325252)
		for i := range a {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			a[i] = x
			if i%10 == 0 && i > 0 {
				a[i] = a[i-1] // repeats
			}
		}
		want := slices.Clone(a)
		slices.Sort(want)
		sortHashes(a)
		if !slices.Equal(a, want) {
			t.Errorf("n=%d: not sorted", n)
		}
	}
}

// TestSmallBlocks runs the behaviour tests again with blocks of at most
// three tokens, so that learning, moving and pruning split blocks, empty
// them and find tokens across block boundaries all the time.
func TestSmallBlocks(t *testing.T) {
	defer func(n int) { maxBlockEntries = n }(maxBlockEntries)
	maxBlockEntries = 3
	for name, f := range map[string]func(*testing.T){
		"Conformance":              TestConformance,
		"PruneHapaxesAndOldFirst":  TestPruneHapaxesAndOldFirst,
		"PruneOldestWhenNoHapaxes": TestPruneOldestWhenNoHapaxes,
		"MoveAfterListPruned":      TestMoveAfterListPruned,
		"MoveAfterTokenizerChange": TestMoveAfterTokenizerChange,
		"Snapshot":                 TestSnapshot,
	} {
		t.Run(name, f)
	}
}

func TestSplitBlock(t *testing.T) {
	defer func(n int) { maxBlockEntries = n }(maxBlockEntries)
	maxBlockEntries = 4
	entries := func(hs ...uint64) []byte {
		var b []byte
		for _, h := range hs {
			b = appendEntry(b, h, tokenValue{spam: 1})
		}
		return b
	}
	tests := []struct {
		name    string
		lo      uint64
		existed bool
		in      []byte
		want    []blockWrite
	}{
		{"empty, new", 5, false, nil, nil},
		{"emptied", 5, true, nil, []blockWrite{{k: 5, del: true}}},
		{"fits", 5, true, entries(7, 8, 9, 10), []blockWrite{{k: 5, v: entries(7, 8, 9, 10)}}},
		{"halves", 5, true, entries(7, 8, 9, 10, 11), []blockWrite{{k: 5, v: entries(7, 8)}, {k: 9, v: entries(9, 10, 11)}}},
		{"three", 0, false, entries(1, 2, 3, 4, 5, 6, 7), []blockWrite{{k: 0, v: entries(1, 2)}, {k: 3, v: entries(3, 4)}, {k: 5, v: entries(5, 6, 7)}}},
	}
	for _, tc := range tests {
		got := splitBlock(tc.lo, tc.existed, tc.in)
		if !slices.EqualFunc(got, tc.want, func(a, b blockWrite) bool { return a.k == b.k && a.del == b.del && string(a.v) == string(b.v) }) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
