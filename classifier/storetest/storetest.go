// Package storetest is the conformance suite every classifier.Store
// implementation must pass: the embedded store, the Redis one and the
// in-memory reference run the same cases.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"mailguard/classifier"
)

// Harness opens the store under test.
type Harness struct {
	// Open returns an empty store; the suite closes it.
	Open func(t *testing.T) classifier.Store
	// Reopen closes st and opens its data again. Nil for stores that do
	// not persist; the persistence cases are then skipped.
	Reopen func(t *testing.T, st classifier.Store) classifier.Store
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"Empty", testEmpty},
		{"Counts", testCounts},
		{"LearnTwiceCountsOnce", testIdempotent},
		{"RelearnMoves", testMove},
		{"OneBatch", testBatch},
		{"AgainstModel", testModel},
		{"ConsistentReaders", testReaders},
		{"Cancelled", testCancelled},
		{"Persistence", testPersistence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

func open(t *testing.T, h Harness) classifier.Store {
	t.Helper()
	st := h.Open(t)
	t.Cleanup(func() { st.Close() })
	return st
}

func doc(digest string, spam bool, tokens ...string) classifier.Doc {
	return classifier.Doc{Digest: digest, Spam: spam, Tokens: tokens}
}

func learn(t *testing.T, st classifier.Store, want int, docs ...classifier.Doc) {
	t.Helper()
	n, err := st.Learn(context.Background(), docs...)
	if err != nil {
		t.Fatalf("Learn: %v", err)
	}
	if n != want {
		t.Errorf("Learn changed %d messages, want %d", n, want)
	}
}

// expect checks the counts of tokens (spam, ham pairs) and the totals.
func expect(t *testing.T, st classifier.Store, tot classifier.Totals, want map[string]classifier.Counts) {
	t.Helper()
	toks := make([]string, 0, len(want))
	for tok := range want {
		toks = append(toks, tok)
	}
	got, gotTot, err := st.Counts(context.Background(), toks)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if len(got) != len(toks) {
		t.Fatalf("Counts answered %d counts for %d tokens", len(got), len(toks))
	}
	for i, tok := range toks {
		if got[i] != want[tok] {
			t.Errorf("token %q: counts %+v, want %+v", tok, got[i], want[tok])
		}
	}
	if gotTot != tot {
		t.Errorf("Counts totals %+v, want %+v", gotTot, tot)
	}
	if tt, err := st.Totals(context.Background()); err != nil || tt != tot {
		t.Errorf("Totals = %+v, %v; want %+v", tt, err, tot)
	}
}

type c = classifier.Counts
type tot = classifier.Totals

func testEmpty(t *testing.T, h Harness) {
	st := open(t, h)
	expect(t, st, tot{}, map[string]c{"anything": {}, "": {}})
	got, _, err := st.Counts(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Counts(nil) = %v, %v", got, err)
	}
	learn(t, st, 0)
}

func testCounts(t *testing.T, h Harness) {
	st := open(t, h)
	learn(t, st, 3,
		doc("s1", true, "free", "money", "now"),
		doc("s2", true, "free", "pills", "pills"), // a repeated token counts once
		doc("h1", false, "meeting", "free", "now"))
	expect(t, st, tot{Spam: 2, Ham: 1}, map[string]c{
		"free": {Spam: 2, Ham: 1}, "money": {Spam: 1}, "pills": {Spam: 1},
		"now": {Spam: 1, Ham: 1}, "meeting": {Ham: 1}, "unknown": {},
	})
	// The answer follows the order of the question, repeats included.
	got, _, err := st.Counts(context.Background(), []string{"meeting", "free", "meeting", "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []c{{Ham: 1}, {Spam: 2, Ham: 1}, {Ham: 1}, {}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Counts[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testIdempotent(t *testing.T, h Harness) {
	st := open(t, h)
	learn(t, st, 1, doc("m", true, "a", "b"))
	learn(t, st, 0, doc("m", true, "a", "b"))
	// Same digest, same class: nothing changes whatever the tokens say.
	learn(t, st, 0, doc("m", true, "c"))
	expect(t, st, tot{Spam: 1}, map[string]c{"a": {Spam: 1}, "b": {Spam: 1}, "c": {}})
}

func testMove(t *testing.T, h Harness) {
	st := open(t, h)
	learn(t, st, 2, doc("m", true, "a", "b"), doc("n", true, "b"))
	learn(t, st, 1, doc("m", false, "a", "b"))
	expect(t, st, tot{Spam: 1, Ham: 1}, map[string]c{"a": {Ham: 1}, "b": {Spam: 1, Ham: 1}})
	learn(t, st, 0, doc("m", false, "a", "b"))
	learn(t, st, 1, doc("m", true, "a", "b"))
	expect(t, st, tot{Spam: 2}, map[string]c{"a": {Spam: 1}, "b": {Spam: 2}})
}

func testBatch(t *testing.T, h Harness) {
	st := open(t, h)
	// The same message twice in a batch counts once; moved within the
	// batch it ends in its last class.
	learn(t, st, 1, doc("m", true, "a"), doc("m", true, "a"))
	learn(t, st, 2, doc("n", true, "a", "b"), doc("n", false, "a", "b"), doc("m", true, "a"))
	expect(t, st, tot{Spam: 1, Ham: 1}, map[string]c{"a": {Spam: 1, Ham: 1}, "b": {Ham: 1}})
}

// testModel learns random batches, with repeats and moves, and compares
// every count with a plain recount.
func testModel(t *testing.T, h Harness) {
	st := open(t, h)
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := make([][]string, 300)
	for i := range msgs {
		n := 1 + rng.IntN(40)
		for range n {
			msgs[i] = append(msgs[i], fmt.Sprintf("t%d", rng.IntN(500)))
		}
	}
	class := map[int]bool{}
	for round := 0; round < 20; round++ {
		var batch []classifier.Doc
		want := 0
		seen := map[int]bool{}
		for range 1 + rng.IntN(60) {
			i := rng.IntN(len(msgs))
			spam := rng.IntN(2) == 0
			if old, ok := class[i]; !ok || old != spam {
				want++
			}
			class[i] = spam
			seen[i] = true
			batch = append(batch, doc(fmt.Sprintf("msg-%d", i), spam, msgs[i]...))
		}
		n, err := st.Learn(context.Background(), batch...)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("round %d: Learn changed %d, want %d", round, n, want)
		}
	}
	model := map[string]c{}
	var mt tot
	for i, spam := range class {
		done := map[string]bool{}
		for _, tok := range msgs[i] {
			if done[tok] {
				continue
			}
			done[tok] = true
			cn := model[tok]
			if spam {
				cn.Spam++
			} else {
				cn.Ham++
			}
			model[tok] = cn
		}
		if spam {
			mt.Spam++
		} else {
			mt.Ham++
		}
	}
	for i := range 500 {
		tok := fmt.Sprintf("t%d", i)
		if _, ok := model[tok]; !ok {
			model[tok] = c{}
		}
	}
	expect(t, st, mt, model)
}

// testReaders reads while a writer learns: every read must see one
// consistent state, in which a token every message holds has the totals as
// its counts.
func testReaders(t *testing.T, h Harness) {
	st := open(t, h)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 50 {
			batch := []classifier.Doc{
				doc(fmt.Sprintf("s%d", i), true, "every", fmt.Sprint("x", i)),
				doc(fmt.Sprintf("h%d", i), false, "every", fmt.Sprint("y", i)),
			}
			if _, err := st.Learn(ctx, batch...); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				got, tt, err := st.Counts(ctx, []string{"every", "nothing"})
				if err != nil {
					errs <- err
					return
				}
				if uint64(got[0].Spam) != tt.Spam || uint64(got[0].Ham) != tt.Ham || got[1] != (c{}) {
					errs <- fmt.Errorf("inconsistent read: counts %+v, totals %+v", got, tt)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	expect(t, st, tot{Spam: 50, Ham: 50}, map[string]c{"every": {Spam: 50, Ham: 50}, "x7": {Spam: 1}})
}

func testCancelled(t *testing.T, h Harness) {
	st := open(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Learn(ctx, doc("m", true, "a")); err == nil {
		t.Error("Learn with a cancelled context succeeded")
	}
	expect(t, st, tot{}, map[string]c{"a": {}})
}

func testPersistence(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("store does not persist")
	}
	st := h.Open(t)
	learn(t, st, 2, doc("m", true, "a", "b"), doc("n", false, "b"))
	st = h.Reopen(t, st)
	defer st.Close()
	expect(t, st, tot{Spam: 1, Ham: 1}, map[string]c{"a": {Spam: 1}, "b": {Spam: 1, Ham: 1}})
	// The store still knows which messages it learnt, and their tokens.
	learn(t, st, 0, doc("m", true, "a", "b"))
	learn(t, st, 1, doc("m", false, "a", "b"))
	expect(t, st, tot{Ham: 2}, map[string]c{"a": {Ham: 1}, "b": {Ham: 2}})
}
