package mailfiles

import (
	"context"
	"runtime"
	"sync"
)

// Job is one message on its way through Process.
type Job struct {
	Name string
	Raw  []byte
	seq  int
	err  error
}

// Config sets up Process.
type Config struct {
	// Workers run work at once; 0 means one per CPU.
	Workers int
	// Progress, when set, is called from the reading goroutine with the
	// bytes of each file once it is read.
	Progress func(bytes int64)
}

// Process reads the messages of files in order on one goroutine, runs work
// on each in parallel, and hands the results to emit in the order the
// messages were read, on the calling goroutine. A file that cannot be read
// reaches emit with its error (and the zero T); emit's own error stops the
// run.
func Process[T any](ctx context.Context, cfg Config, files []File, work func(name string, raw []byte) T, emit func(name string, v T, err error) error) error {
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *Job, 4*workers)
	type result struct {
		job *Job
		v   T
	}
	results := make(chan result, 4*workers)

	// Process returns only once the reader is done, so no file is still
	// being read by a run that has already answered.
	readerDone := make(chan struct{})
	defer func() {
		cancel()
		<-readerDone
	}()
	go func() {
		defer close(readerDone)
		defer close(jobs)
		seq := 0
		send := func(j *Job) bool {
			j.seq = seq
			seq++
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, f := range files {
			err := Read(f.Path, func(name string, raw []byte) error {
				if !send(&Job{Name: name, Raw: raw}) {
					return ctx.Err()
				}
				return nil
			})
			if ctx.Err() != nil {
				return
			}
			if err != nil && !send(&Job{Name: f.Path, err: err}) {
				return
			}
			if cfg.Progress != nil {
				cfg.Progress(f.Size)
			}
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var r result
				r.job = j
				if j.err == nil {
					r.v = work(j.Name, j.Raw)
				}
				j.Raw = nil
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// Put the results back in reading order.
	pending := map[int]result{}
	next := 0
	for r := range results {
		pending[r.job.seq] = r
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := emit(p.job.Name, p.v, p.job.err); err != nil {
				cancel()
				for range results {
				}
				return err
			}
		}
	}
	return ctx.Err()
}
