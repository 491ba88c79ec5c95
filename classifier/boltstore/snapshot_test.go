package boltstore

import (
	"context"
	"fmt"
	"testing"

	"mailguard/classifier"
)

// BenchmarkSnapshotCounts looks up one message's tokens (600, half of them
// known) in a snapshot the size of a trained gateway's table (500,000
// tokens, some 16 MB: most lookups miss the CPU caches), per message.
func BenchmarkSnapshotCounts(b *testing.B) {
	const n = 500_000
	snap := &Snapshot{table: newTable(n), totals: classifier.Totals{Spam: 1000, Ham: 1000}}
	for i := range n {
		snap.table.put(hashToken(fmt.Sprintf("bi:word%d other%d", i, i%977)), classifier.Counts{Spam: uint32(i % 7), Ham: uint32(i % 5)})
	}
	msgs := make([][]string, 64)
	for m := range msgs {
		toks := make([]string, 600)
		for j := range toks {
			k := (m*7919 + j*104729) % n
			if j%2 == 0 {
				toks[j] = fmt.Sprintf("bi:word%d other%d", k, k%977)
			} else {
				toks[j] = fmt.Sprintf("bi:unknown%d word%d", k, j)
			}
		}
		msgs[m] = toks
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := snap.Counts(ctx, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestSnapshotCounts: a snapshot answers the counts put in its table and
// zero counts for tokens it does not hold, in the order asked.
func TestSnapshotCounts(t *testing.T) {
	snap := &Snapshot{table: newTable(3), totals: classifier.Totals{Spam: 2, Ham: 1}}
	snap.table.put(hashToken("free"), classifier.Counts{Spam: 2})
	snap.table.put(hashToken("meeting"), classifier.Counts{Ham: 1})
	got, tot, err := snap.Counts(context.Background(), []string{"meeting", "unknown", "free", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []classifier.Counts{{Ham: 1}, {}, {Spam: 2}, {}}
	if fmt.Sprint(got) != fmt.Sprint(want) || tot != snap.totals {
		t.Fatalf("counts %v totals %v, want %v %v", got, tot, want, snap.totals)
	}
}
