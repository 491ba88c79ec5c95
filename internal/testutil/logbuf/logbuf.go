// Package logbuf is a log destination for tests: the lines a logger
// writes from any goroutine, read back whole.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it; safe for concurrent use. The zero
// value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
