package uribl

import (
	"testing"

	"mailguard/internal/testutil/corpus"
)

// BenchmarkExtract extracts the links of every message of the corpus per
// iteration; it reports messages/s and the links found per message.
func BenchmarkExtract(b *testing.B) {
	msgs := append(corpus.Read(b, "ham", 0), corpus.Read(b, "spam", 0)...)
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
