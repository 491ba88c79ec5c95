// Package bufpool keeps the buffers every message passes through (copy
// buffers, buffered readers and writers) for reuse, so a message costs no
// fresh 32 KiB allocations on its way through the gateway.
package bufpool

import (
	"bufio"
	"io"
	"sync"
)

// Size is the size in bytes of every pooled buffer: io.Copy's own.
const Size = 32 << 10

var (
	bufs    = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, Size) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, Size) }}
)

// Get returns a pooled buffer of Size bytes; give it back with Put.
func Get() *[]byte { return bufs.Get().(*[]byte) }

// Put returns b to the pool, unless it grew past Size (a pool of ever
// larger buffers would keep the largest message's memory for good).
func Put(b *[]byte) {
	if cap(*b) != Size {
		return
	}
	*b = (*b)[:Size]
	bufs.Put(b)
}

// Copy is io.Copy with a pooled buffer (used when neither side offers
// WriterTo or ReaderFrom).
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	b := bufs.Get().(*[]byte)
	defer bufs.Put(b)
	return io.CopyBuffer(dst, src, *b)
}

// Reader returns a pooled bufio.Reader of Size reading r; give it back
// with PutReader once done with it.
func Reader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// PutReader returns br to the pool; it must not be used afterwards.
func PutReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}

// Writer returns a pooled bufio.Writer of Size writing to w; give it back
// with PutWriter once flushed.
func Writer(w io.Writer) *bufio.Writer {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// PutWriter returns bw to the pool; it must not be used afterwards.
func PutWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writers.Put(bw)
}
