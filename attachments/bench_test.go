package attachments

import (
	"testing"

	"mailguard/internal/testutil/corpus"
)

// BenchmarkInspect walks every message of the corpus and its attachments
// per iteration, with the default limits; it reports messages/s and, per
// folder, the share of messages with a finding the default policy refuses
// (programs, double extensions): on ham, the false positives.
func BenchmarkInspect(b *testing.B) {
	for _, sub := range []string{"ham", "spam"} {
		b.Run(sub, func(b *testing.B) {
			msgs := corpus.Read(b, sub, 0)
			var bytes int64
			for _, m := range msgs {
				bytes += int64(len(m))
			}
			refused := 0
			b.ResetTimer()
			for b.Loop() {
				refused = 0
				for _, m := range msgs {
					for _, f := range Inspect(m, WalkLimits{}, DefaultExtensions()).Findings {
						if f.Class == Executable || f.Class == DoubleExtension {
							refused++
							break
						}
					}
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*len(msgs))/sec, "msgs/s")
			b.ReportMetric(float64(int64(b.N)*bytes)/sec/1e6, "MB/s")
			b.ReportMetric(100*float64(refused)/float64(len(msgs)), "%refused")
			b.ReportMetric(0, "ns/op")
		})
	}
}
