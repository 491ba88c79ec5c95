package filters

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// Queue ids look like Postfix's short ones: 12 upper-case hex digits, the
// low 20 bits of the time in seconds then a 28-bit counter that starts at a
// random value, so ids are unique within a process and unlikely to repeat
// across restarts or between instances sharing a log. Every front end takes
// its ids from here, and sessions get ids of the same form, so a refusal
// before MAIL FROM can be quoted just the same.
var idCounter atomic.Uint32

func init() {
	var b [4]byte
	rand.Read(b[:])
	idCounter.Store(binary.BigEndian.Uint32(b[:]))
}

// NewQueueID returns a fresh queue id.
func NewQueueID() string {
	t := uint64(time.Now().Unix()) & 0xFFFFF
	n := uint64(idCounter.Add(1)) & 0xFFFFFFF
	return fmt.Sprintf("%05X%07X", t, n)
}
