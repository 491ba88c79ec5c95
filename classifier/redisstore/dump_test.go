package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/internal/testutil/redistest"
)

// store is what a copy needs of both sides.
type store interface {
	classifier.Store
	classifier.Dumper
	classifier.Loader
}

// A token database copied embedded -> Redis -> embedded keeps every count,
// the totals, and its messages: relearning one as the other class after
// each copy moves its counts instead of adding them.
func TestCopyBothWays(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	src, err := boltstore.Open(boltstore.Config{Path: filepath.Join(dir, "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	var docs []classifier.Doc
	for i := range 200 {
		var toks []string
		for range 1 + rng.IntN(30) {
			toks = append(toks, fmt.Sprint("w", rng.IntN(400)))
		}
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint("m", i), Spam: i%3 == 0, Tokens: toks})
	}
	if _, err := src.Learn(ctx, docs...); err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 400 {
		all = append(all, fmt.Sprint("w", i))
	}
	want, wantTot, _ := src.Counts(ctx, all)

	rs, err := Open(Config{URL: srv.URL(0), Prefix: prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	dst, err := boltstore.Open(boltstore.Config{Path: filepath.Join(dir, "b.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	for _, hop := range []struct {
		name     string
		from, to store
	}{{"embedded to Redis", src, rs}, {"Redis to embedded", rs, dst}} {
		d, err := hop.from.Dump(ctx)
		if err != nil {
			t.Fatalf("%s: Dump: %v", hop.name, err)
		}
		if len(d.Messages) != 200 {
			t.Errorf("%s: dump has %d messages, want 200", hop.name, len(d.Messages))
		}
		var last int
		if err := hop.to.Load(ctx, d, func(done, total int) { last = done }); err != nil {
			t.Fatalf("%s: Load: %v", hop.name, err)
		}
		if last != len(d.Tokens)+len(d.Messages) {
			t.Errorf("%s: progress ended at %d of %d", hop.name, last, len(d.Tokens)+len(d.Messages))
		}
		got, tot, err := hop.to.Counts(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		if tot != wantTot {
			t.Errorf("%s: totals %+v, want %+v", hop.name, tot, wantTot)
		}
		for i := range all {
			if got[i] != want[i] {
				t.Errorf("%s: %s = %+v, want %+v", hop.name, all[i], got[i], want[i])
			}
		}
		// Learnt already: nothing changes.
		if n, err := hop.to.Learn(ctx, docs[1]); err != nil || n != 0 {
			t.Errorf("%s: relearning a copied message changed %d (%v)", hop.name, n, err)
		}
		// A second copy into a store in use is refused.
		if err := hop.to.Load(ctx, d, nil); !errors.Is(err, ErrNotEmpty) && !errors.Is(err, boltstore.ErrNotEmpty) {
			t.Errorf("%s: Load into a full store: %v", hop.name, err)
		}
	}
	// Moved on the last copy: its counts move, nothing is added twice.
	moved := docs[1]
	moved.Spam = !moved.Spam
	if n, err := dst.Learn(ctx, moved); err != nil || n != 1 {
		t.Fatalf("move after copies: %d, %v", n, err)
	}
	got, tot, _ := dst.Counts(ctx, moved.Tokens[:1])
	if tot.Spam != wantTot.Spam+1 || tot.Ham != wantTot.Ham-1 {
		t.Errorf("after the move totals %+v, from %+v", tot, wantTot)
	}
	w, _, _ := src.Counts(ctx, moved.Tokens[:1])
	if got[0].Spam != w[0].Spam+1 || got[0].Ham != w[0].Ham-1 {
		t.Errorf("moved token %s: %+v, was %+v", moved.Tokens[0], got[0], w[0])
	}
}
