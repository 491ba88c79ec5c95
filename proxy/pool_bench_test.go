package proxy

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRelayConcurrent relays 10 KB messages from 64 clients at once,
// each message on a connection of its own, and reports how many backend
// connections were opened per message (the pool's misses) and the CPU time
// of the whole process (clients, proxy and backend) per message.
func BenchmarkRelayConcurrent(b *testing.B) {
	addr, _ := startBenchProxy(b)
	be := benchBackend
	dials0 := be.Connections()
	cpu0 := processCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan struct{})
	// From 64 networks, within the per-address and per-network limits.
	for i := range 64 {
		wg.Go(func() {
			src := fmt.Sprintf("127.3.%d.1", i)
			for range next {
				sendOneFrom(b, addr, src, tenKB)
			}
		})
	}
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(be.Connections()-dials0)/n, "backend-dials/msg")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/n, "CPU-µs/msg")
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
