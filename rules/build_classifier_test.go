package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"mailguard/classifier"
	"mailguard/filters"
	"mailguard/resolver"
)

// classifierChain builds the default chain on a fresh data_dir and
// returns it with its classifier filter and Deps.
func classifierChain(tb testing.TB) (*filters.Chain, *Config, *Deps) {
	tb.Helper()
	res, err := resolver.New(resolver.Config{Server: "127.0.0.1:1", CacheSize: -1})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Default()
	cfg.DataDir = filepath.Join(tb.TempDir(), "data")
	d := &Deps{Resolver: res}
	tb.Cleanup(func() { d.Close() })
	chain, err := BuildChain(cfg, d)
	if err != nil {
		tb.Fatal(err)
	}
	return chain, cfg, d
}

// The gateway scores messages from the token table it holds in memory: a
// run of messages opens the token database once, not once a message, and
// what another process learns in between is seen by the next message.
func TestClassifierDoesNotReopenTokenStorePerMessage(t *testing.T) {
	chain, cfg, d := classifierChain(t)
	st, err := TokenStore(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	var docs []classifier.Doc
	for i := range 400 {
		docs = append(docs, classifier.Doc{Digest: fmt.Sprint(i), Spam: i%2 == 0, Tokens: []string{fmt.Sprintf("tok%d", i%7), "hello"}})
	}
	if _, err := st.Learn(context.Background(), docs...); err != nil {
		t.Fatal(err)
	}
	opens := func() int64 {
		s, err := TokenStore(cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		if s != st {
			t.Fatalf("the token store changed between messages: %p then %p", st, s)
		}
		return s.(interface{ Opens() int64 }).Opens()
	}
	before := opens()
	for i := range 100 {
		tx := filters.NewTransaction(&filters.ClientConn{}, fmt.Sprintf("Q%d", i))
		out := chain.Data(context.Background(), tx, filters.NewMessage([]byte("From: a@example.com\r\nSubject: hi\r\n\r\nhello tok3\r\n")))
		if !hasBayesTest(out) {
			t.Fatalf("message %d: X-Spam-Status lacks a BAYES_ test: %+v", i, out.Headers)
		}
	}
	if got := opens() - before; got != 1 {
		t.Fatalf("100 messages opened the token database %d times, want once", got)
	}
}

func hasBayesTest(out filters.Outcome) bool {
	for _, h := range out.Headers {
		if h.Name == "X-Spam-Status" {
			for _, s := range out.Tests {
				if len(s.Test) > 6 && s.Test[:6] == "BAYES_" {
					return true
				}
			}
		}
	}
	return false
}

// corpusStore returns a token store trained on 90% of the corpus and the
// other 10% of its messages.
func corpusStore(b *testing.B) (*filters.Chain, classifier.Store, [][]byte) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "spamassassin")
	read := func(sub string) [][]byte {
		names, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		var out [][]byte
		for _, n := range names {
			if m, err := os.ReadFile(n); err == nil {
				out = append(out, m)
			}
		}
		return out
	}
	ham, spam := read("ham"), read("spam")
	if len(ham) < 200 || len(spam) < 200 {
		b.Skipf("corpus not found at %s", dir)
	}
	chain, cfg, d := classifierChain(b)
	st, err := TokenStore(cfg, d)
	if err != nil {
		b.Fatal(err)
	}
	var docs []classifier.Doc
	var test [][]byte
	for i, m := range append(ham, spam...) {
		if i%10 == 0 {
			test = append(test, m)
			continue
		}
		docs = append(docs, classifier.Doc{Digest: classifier.Digest(m), Spam: i >= len(ham), Tokens: classifier.Tokenize(m)})
	}
	if _, err := st.Learn(context.Background(), docs...); err != nil {
		b.Fatal(err)
	}
	return chain, st, test
}

// BenchmarkTokenStoreReload is what one commit (autolearn, review, train)
// costs the gateway: the next message rebuilds the in-memory table.
func BenchmarkTokenStoreReload(b *testing.B) {
	_, st, test := corpusStore(b)
	ctx := context.Background()
	toks := classifier.Tokenize(test[0])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		if _, err := st.Learn(ctx, classifier.Doc{Digest: fmt.Sprint("reload", i), Spam: i%2 == 0, Tokens: toks[:10]}); err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		if _, _, err := st.Counts(ctx, toks); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifierFilter scores corpus messages through the chain's
// classifier filter against a token store trained on the rest of the
// corpus, as the gateway does at the end of DATA.
func BenchmarkClassifierFilter(b *testing.B) {
	chain, _, test := corpusStore(b)
	var f filters.MessageChecker
	for _, x := range chain.Filters() {
		if x.Name() == "classifier" {
			f = x.(filters.MessageChecker)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tx := filters.NewTransaction(&filters.ClientConn{}, "Q")
		f.CheckMessage(ctx, tx, filters.NewMessage(test[i%len(test)]))
		i++
	}
}
