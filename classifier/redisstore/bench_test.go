package redisstore

import (
	"context"
	"path/filepath"
	"testing"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/internal/testutil/corpus"
	"mailguard/internal/testutil/redistest"
)

// BenchmarkClassify classifies the same messages against the embedded
// store and the Redis one, both trained alike, in one run: msgs/s is the
// figure to compare (the tokenizer is left out, it is the same for both).
func BenchmarkClassify(b *testing.B) {
	ham, spam := corpus.Read(b, "ham", 600), corpus.Read(b, "spam", 600)
	// The first 500 of each class train, the rest are classified.
	train := func(st classifier.Store) {
		var docs []classifier.Doc
		for i, set := range [][][]byte{ham[:500], spam[:500]} {
			for _, m := range set {
				docs = append(docs, classifier.Doc{Digest: classifier.Digest(m), Spam: i == 1, Tokens: classifier.Tokenize(m)})
			}
		}
		for len(docs) > 0 {
			n := min(len(docs), 100)
			if _, err := st.Learn(context.Background(), docs[:n]...); err != nil {
				b.Fatal(err)
			}
			docs = docs[n:]
		}
	}
	var test [][]string
	for _, m := range append(ham[500:], spam[500:]...) {
		test = append(test, classifier.Tokenize(m))
	}
	srv := redistest.Start(b)
	rs, err := Open(Config{URL: srv.URL(0)})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	train(rs)
	bs, err := boltstore.Open(boltstore.Config{Path: filepath.Join(b.TempDir(), "tokens.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	train(bs)
	for _, c := range []struct {
		name string
		st   classifier.Store
	}{{"embedded", bs}, {"redis", rs}} {
		b.Run(c.name, func(b *testing.B) {
			cl := classifier.New(classifier.DefaultConfig(), c.st)
			n := 0
			for b.Loop() {
				for _, toks := range test {
					if _, err := cl.Classify(context.Background(), toks); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
