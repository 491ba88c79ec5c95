package filters

import (
	"context"
	"syscall"
	"testing"
	"time"
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
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		for _, m := range msgs {
			c.CheckMessage(context.Background(), tx, m)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
	// On a shared machine the wall clock says more about the neighbours
	// than about the checks; the process's CPU time does not.
	if spent := (cpuTime() - cpu).Seconds(); spent > 0 {
		b.ReportMetric(float64(total)*float64(b.N)/1e6/spent, "MB/cpu-s")
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
