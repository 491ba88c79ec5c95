package bufpool

import (
	"bytes"
	"strings"
	"testing"
)

func TestCopyAndBuffers(t *testing.T) {
	for _, n := range []int{0, 1, Size - 1, Size, 3*Size + 7} {
		src := strings.Repeat("x", n)
		var dst bytes.Buffer
		// A reader and writer without ReadFrom/WriteTo, so the pooled
		// buffer is the one used.
		if got, err := Copy(struct{ *bytes.Buffer }{&dst}, struct{ *strings.Reader }{strings.NewReader(src)}); err != nil || got != int64(n) || dst.String() != src {
			t.Errorf("Copy of %d bytes: %d, %v", n, got, err)
		}
	}
	var out bytes.Buffer
	w := Writer(&out)
	r := Reader(strings.NewReader("line\nrest"))
	line, _ := r.ReadString('\n')
	w.WriteString(line)
	w.Flush()
	PutWriter(w)
	PutReader(r)
	if out.String() != "line\n" {
		t.Errorf("pooled reader and writer: %q", out.String())
	}
}

// A buffer that grew is not kept: the pool would hold the largest
// message's memory for good.
func TestPutDropsGrownBuffers(t *testing.T) {
	b := Get()
	if len(*b) != Size {
		t.Fatalf("Get: %d bytes, want %d", len(*b), Size)
	}
	grown := append((*b)[:0], make([]byte, 2*Size)...)
	*b = grown
	Put(b) // dropped; must not panic or shrink anything in use
	if len(grown) != 2*Size {
		t.Fatal("Put changed a dropped buffer")
	}
}
