package milter

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge the next segments at once. An MTA
// sends a macro packet and its command in two small writes; when its
// socket waits for the first one's acknowledgement before sending the
// second (Nagle's algorithm, on in Postfix's milter client), a delayed
// acknowledgement here would add up to 40 ms to every command. The flag
// does not stick, so it is set again before each packet is read.
func quickAck(c net.Conn) func() {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return func() {}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return func() {}
	}
	return func() {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}
