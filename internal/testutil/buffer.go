package testutil

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects writes from several goroutines (a logger, a child
// process's stdout and stderr) and reads them back while they go on. The
// zero value is ready to use. With Limit set, writes past Limit bytes are
// accepted and dropped, so a chatty child cannot fill the memory of a long
// test; what was kept is enough to see why something failed.
type Buffer struct {
	Limit int // bytes kept; 0 keeps everything

	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p (or drops it past Limit). It never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.buf.Len() >= b.Limit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns everything kept so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Contains reports whether what was kept so far contains s.
func (b *Buffer) Contains(s string) bool {
	return strings.Contains(b.String(), s)
}

// Reset empties the buffer.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
