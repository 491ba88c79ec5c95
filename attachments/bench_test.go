package attachments

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// corpus reads one folder (ham or spam) of the SpamAssassin corpus kept
// beside the repository; the benchmark is skipped when it is absent.
func corpus(b *testing.B, sub string) [][]byte {
	b.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "spamassassin", sub)
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		b.Skipf("corpus not found at %s (the SpamAssassin public corpus)", dir)
	}
	return out
}

// BenchmarkInspect walks every message of the corpus and its attachments
// per iteration, with the default limits; it reports messages/s and, per
// folder, the share of messages with a finding the default policy refuses
// (programs, double extensions): on ham, the false positives.
func BenchmarkInspect(b *testing.B) {
	for _, sub := range []string{"ham", "spam"} {
		b.Run(sub, func(b *testing.B) {
			msgs := corpus(b, sub)
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
