package redisanvil

import (
	"context"
	"strconv"
	"testing"
	"time"

	"mailguard/anvil"
	"mailguard/internal/testutil/redistest"
)

// BenchmarkIncr is a rate-limit check (one count) in memory and on Redis
// on loopback, one at a time and from parallel goroutines as connections
// do.
func BenchmarkIncr(b *testing.B) {
	srv := redistest.Start(b)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, s := range []struct {
		name string
		st   anvil.Store
	}{{"memory", anvil.NewMemory(0)}, {"redis", st}} {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.st.Incr(ctx, "conn:192.0.2."+strconv.Itoa(i%250), 1, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if _, err := s.st.Incr(ctx, "conn:192.0.2."+strconv.Itoa(i%250), 1, time.Minute); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
