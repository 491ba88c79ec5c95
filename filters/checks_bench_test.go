package filters

import (
	"context"
	"testing"
)

// BenchmarkMessageChecksCorpus runs the message checks (header checks, the
// MIME walk and the GTUBE scans) over every message of the corpus, from
// spooled messages as the gateway has them at the end of DATA. b.SetBytes
// makes the result read in MB/s of mail.
func BenchmarkMessageChecksCorpus(b *testing.B) {
	var msgs []*Message
	var total int64
	for _, label := range []string{"ham", "spam"} {
		for _, p := range corpusFiles(b, label) {
			m := NewMessage(readCorpusMessage(b, p))
			msgs = append(msgs, m)
			total += m.Size
		}
	}
	c := testChecks(ChecksConfig{})
	tx := outsideTx()
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, m := range msgs {
			c.CheckMessage(context.Background(), tx, m)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSpoolAndChecksCorpus adds receiving into the spool and parsing
// the header, the work done on every message before the checks.
func BenchmarkSpoolAndChecksCorpus(b *testing.B) {
	var raws [][]byte
	var total int64
	for _, label := range []string{"ham", "spam"} {
		for _, p := range corpusFiles(b, label) {
			r := readCorpusMessage(b, p)
			raws = append(raws, r)
			total += int64(len(r))
		}
	}
	c := testChecks(ChecksConfig{})
	tx := outsideTx()
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		for _, r := range raws {
			c.CheckMessage(context.Background(), tx, NewMessage(r))
		}
	}
}
