package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/classifier/redisstore"
	"mailguard/mailfiles"
	"mailguard/rules"
)

func init() {
	register(command{name: "train", summary: "learns spam or ham from message files, folders of them, or mbox files", run: runTrain})
}

// A transaction learns what was tokenized while the previous one was
// written, between minBatch and maxBatch messages: the batch size follows
// the balance between tokenizing (on every core) and writing (on one), so
// neither waits long for the other. A transaction costs about as much to
// commit whatever its size, since a batch touches most pages of the token
// table, so batches are large; the cap bounds memory (about 15 MB a
// thousand messages) and what an interrupted run loses.
const (
	minBatch = 1000
	maxBatch = 4000
)

func runTrain(args []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("train", "mailguard train [-config FILE] (-spam | -ham) PATH...", "Learns the messages under each PATH (a message file, a folder of them, searched\nrecursively, or an mbox file) as spam or as ham. A message learnt again counts\nonce; learnt as the other class, it moves.", stderr)
	spam := fs.Bool("spam", false, "the messages are spam")
	ham := fs.Bool("ham", false, "the messages are ham (wanted mail)")
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if *spam == *ham || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "mailguard train: give -spam or -ham, and at least one PATH")
		fs.Usage()
		return exitUsage
	}
	cfg, files, st, code := openForMessages("train", *path, fs.Args(), false, stderr)
	if code != exitOK {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// A short-lived batch job: trade memory for fewer collections of the
	// write transaction's many small nodes.
	debug.SetGCPercent(400)
	sum, err := train(ctx, cfg, st, files, *spam, stderr)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	class := "ham"
	if *spam {
		class = "spam"
	}
	rate := float64(sum.messages) / sum.elapsed.Seconds()
	fmt.Fprintf(stdout, "learnt %d %s messages from %d files in %.1fs (%.0f messages/s): %d new or moved, %d known already\n",
		sum.messages, class, len(files), sum.elapsed.Seconds(), rate, sum.changed, sum.messages-sum.changed)
	if sum.totals != nil {
		fmt.Fprintf(stdout, "token store %s: %d spam and %d ham messages, %d tokens\n", sum.where, sum.totals.Spam, sum.totals.Ham, sum.tokens)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailguard train: %v\n", err)
		return exitFailed
	}
	if sum.failed > 0 {
		fmt.Fprintf(stderr, "mailguard train: %d file(s) could not be read\n", sum.failed)
		return exitFailed
	}
	return exitOK
}

type trainSummary struct {
	messages, changed, failed int
	elapsed                   time.Duration
	totals                    *classifier.Totals
	tokens                    int
	where                     string
}

// train tokenizes on every core and learns in batches on one goroutine,
// so tokenizing goes on while a batch is written.
func train(ctx context.Context, cfg *rules.Config, st classifier.Store, files []mailfiles.File, spam bool, stderr io.Writer) (trainSummary, error) {
	start := time.Now()
	var sum trainSummary
	prog := newProgress(files, stderr)
	defer prog.done()

	b := newBatcher()
	var learnErr error
	var changed int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			docs, ok := b.take()
			if !ok {
				return
			}
			if learnErr != nil {
				continue
			}
			n, err := st.Learn(ctx, docs...)
			changed += n
			learnErr = err
		}
	}()

	type item struct {
		doc   classifier.Doc
		empty bool
	}
	err := mailfiles.Process(ctx, mailfiles.Config{Progress: prog.bytes}, files,
		func(name string, raw []byte) item {
			if len(raw) == 0 {
				return item{empty: true}
			}
			raw = head(cfg, raw)
			return item{doc: classifier.Doc{Digest: classifier.Digest(raw), Spam: spam, Tokens: classifier.Tokenize(raw)}}
		},
		func(name string, it item, err error) error {
			switch {
			case err != nil:
				prog.printf("mailguard train: %v\n", err)
				sum.failed++
				return nil
			case it.empty:
				prog.printf("mailguard train: %s: empty, skipped\n", name)
				return nil
			}
			sum.messages++
			prog.message()
			b.add(it.doc)
			return nil
		})
	b.close(err != nil)
	<-done
	sum.changed = changed
	sum.elapsed = time.Since(start)
	if err == nil {
		err = learnErr
	}
	if tot, terr := st.Totals(ctx); terr == nil {
		sum.totals = &tot
	}
	if bs, ok := st.(*boltstore.Store); ok {
		sum.tokens, _ = bs.Tokens()
		sum.where = bs.Path()
	}
	if rs, ok := st.(*redisstore.Store); ok {
		n, _ := rs.Tokens(ctx)
		sum.tokens, sum.where = int(n), rs.Where()
	}
	return sum, err
}

// batcher hands tokenized messages to the writer in batches.
type batcher struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending []classifier.Doc
	closed  bool
}

func newBatcher() *batcher {
	b := &batcher{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// add queues a message, waiting while a full batch is pending.
func (b *batcher) add(d classifier.Doc) {
	b.mu.Lock()
	for len(b.pending) >= maxBatch {
		b.cond.Wait()
	}
	b.pending = append(b.pending, d)
	if len(b.pending) >= minBatch {
		b.cond.Broadcast()
	}
	b.mu.Unlock()
}

// close ends the run; discard drops what is pending (the run failed).
func (b *batcher) close(discard bool) {
	b.mu.Lock()
	b.closed = true
	if discard {
		b.pending = nil
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// take waits for a batch; false when the run is over.
func (b *batcher) take() ([]classifier.Doc, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) < minBatch && !b.closed {
		b.cond.Wait()
	}
	docs := b.pending
	b.pending = nil
	b.cond.Broadcast()
	return docs, len(docs) > 0
}

// progress shows how far a run is: a bar with rate and ETA on a terminal,
// else a plain line every few seconds.
type progress struct {
	bar      *progressbar.ProgressBar
	w        io.Writer
	mu       sync.Mutex
	messages int
	read     int64
	total    int64
	last     time.Time
	start    time.Time
}

func newProgress(files []mailfiles.File, w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), last: time.Now()}
	for _, f := range files {
		p.total += f.Size
	}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("learning"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) bytes(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.read += n
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

func (p *progress) message() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages++
	if p.bar != nil {
		if p.messages%100 == 0 {
			p.bar.Describe(fmt.Sprintf("learning: %d messages, %.0f/s", p.messages, float64(p.messages)/time.Since(p.start).Seconds()))
		}
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		el := time.Since(p.start).Seconds()
		pct := 100.0
		if p.total > 0 {
			pct = 100 * float64(p.read) / float64(p.total)
		}
		fmt.Fprintf(p.w, "train: %d messages, %.0f%% of %d MB read, %.0f messages/s\n", p.messages, pct, p.total>>20, float64(p.messages)/el)
	}
}

// printf writes a line without breaking the bar.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
