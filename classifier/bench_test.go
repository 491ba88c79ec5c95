package classifier

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// corpusDir is the SpamAssassin corpus beside the repository.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "spamassassin")
	if _, err := os.Stat(filepath.Join(dir, "ham")); err != nil {
		tb.Skipf("corpus not found at %s: %v", dir, err)
	}
	return dir
}

// loadCorpus reads every message of a corpus folder, at most max (0: all).
func loadCorpus(tb testing.TB, dir string, max int) [][]byte {
	tb.Helper()
	return readGlob(tb, filepath.Join(dir, "*"), max)
}

// readGlob reads the files pattern names, at most max (0: all).
func readGlob(tb testing.TB, pattern string, max int) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
		if max > 0 && len(out) == max {
			break
		}
	}
	return out
}

// BenchmarkTokenize tokenizes the whole corpus per iteration and reports
// messages and MB per second.
func BenchmarkTokenize(b *testing.B) {
	dir := corpusDir(b)
	msgs := append(loadCorpus(b, filepath.Join(dir, "ham"), 0), loadCorpus(b, filepath.Join(dir, "spam"), 0)...)
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m))
	}
	for _, m := range msgs { // warm prose's cache, as a running gateway has
		Tokenize(m)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		for _, m := range msgs {
			Tokenize(m)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(msgs))/sec, "msgs/s")
	b.ReportMetric(float64(b.N*len(msgs))/(cpuTime()-cpu0), "msgs/cpu-s")
	b.ReportMetric(float64(int64(b.N)*bytes)/sec/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTokenizeMessage tokenizes one corpus message per operation,
// ham and spam in turn, so that ns/op, B/op and allocs/op are per message.
func BenchmarkTokenizeMessage(b *testing.B) {
	dir := corpusDir(b)
	msgs := append(loadCorpus(b, filepath.Join(dir, "ham"), 0), loadCorpus(b, filepath.Join(dir, "spam"), 0)...)
	benchTokenizeEach(b, msgs)
}

// BenchmarkTokenizeTestdata tokenizes the sample messages of testdata
// (base64, quoted-printable, HTML, KOI8-R, malformed), one per operation.
func BenchmarkTokenizeTestdata(b *testing.B) {
	msgs := readGlob(b, "testdata/*.eml", 0)
	if len(msgs) == 0 {
		b.Fatal("no samples in testdata")
	}
	benchTokenizeEach(b, msgs)
}

func benchTokenizeEach(b *testing.B, msgs [][]byte) {
	var size int64
	for _, m := range msgs {
		size += int64(len(m))
		Tokenize(m) // warm prose's cache, as a running gateway has
	}
	b.SetBytes(size / int64(len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		Tokenize(msgs[n%len(msgs)])
		n++
	}
	// CPU time per message, garbage collection included: on a shared
	// machine ns/op also measures the neighbours.
	b.ReportMetric((cpuTime()-cpu0)*1e9/float64(n), "cpu-ns/op")
}

// BenchmarkClassify scores pre-tokenized messages against a store that
// learnt the corpus.
func BenchmarkClassify(b *testing.B) {
	dir := corpusDir(b)
	ham, spam := loadCorpus(b, filepath.Join(dir, "ham"), 0), loadCorpus(b, filepath.Join(dir, "spam"), 0)
	st := NewMemStore()
	c := New(DefaultConfig(), st)
	var toks [][]string
	var docs []Doc
	for i, m := range append(ham, spam...) {
		tk := Tokenize(m)
		toks = append(toks, tk)
		docs = append(docs, Doc{Digest: Digest(m), Spam: i >= len(ham), Tokens: tk})
	}
	ctx := context.Background()
	if _, err := c.Learn(ctx, docs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := c.Classify(ctx, toks[n%len(toks)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(n)/(cpuTime()-cpu0), "msgs/cpu-s")
}

// cpuTime is the process's user and system CPU seconds: on a shared
// machine it measures the work, where wall time measures the neighbours.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
