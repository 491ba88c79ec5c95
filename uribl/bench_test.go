package uribl

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// corpus reads the SpamAssassin corpus kept beside the repository, ham
// then spam; the benchmark is skipped when it is absent.
func corpus(b *testing.B) [][]byte {
	b.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "spamassassin")
	var out [][]byte
	for _, sub := range []string{"ham", "spam"} {
		names, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, data)
		}
	}
	if len(out) == 0 {
		b.Skipf("corpus not found at %s (the SpamAssassin public corpus, ham/ and spam/)", dir)
	}
	return out
}

// BenchmarkExtract extracts the links of every message of the corpus per
// iteration; it reports messages/s and the links found per message.
func BenchmarkExtract(b *testing.B) {
	msgs := corpus(b)
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m))
	}
	items := 0
	b.ResetTimer()
	for b.Loop() {
		items = 0
		for _, m := range msgs {
			items += len(Extract(m).Items)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(msgs))/sec, "msgs/s")
	b.ReportMetric(float64(int64(b.N)*bytes)/sec/1e6, "MB/s")
	b.ReportMetric(float64(items)/float64(len(msgs)), "links/msg")
	b.ReportMetric(0, "ns/op")
}
