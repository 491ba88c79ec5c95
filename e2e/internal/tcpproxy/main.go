// Command tcpproxy copies bytes between each client and a new connection to
// a backend and does nothing else: no SMTP, no checks. The load run puts it
// where the gateway stands to measure what any proxy in Go costs on the
// same machine and load, the floor under the gateway's own figures.
//
// Usage: tcpproxy -listen ADDR -backend ADDR. It runs until killed.
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on")
	backend := flag.String("backend", "", "address to connect each client to")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("tcpproxy: %v", err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatalf("tcpproxy: %v", err)
		}
		go serve(c.(*net.TCPConn), *backend)
	}
}

// serve copies both ways until each side has closed; the client's end of
// input is passed on as the backend's, so neither side is cut short.
func serve(c *net.TCPConn, backend string) {
	defer c.Close()
	conn, err := net.Dial("tcp", backend)
	if err != nil {
		log.Printf("tcpproxy: %v", err)
		return
	}
	b := conn.(*net.TCPConn)
	defer b.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(b, c)
		b.CloseWrite()
		close(done)
	}()
	io.Copy(c, b)
	<-done
}
