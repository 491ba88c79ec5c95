package main

import (
	"io"
	"log"
	"net"
)

// serveTCP copies bytes between each client of listen and a new
// connection to backend, until accepting fails.
func serveTCP(listen, backend string) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go serve(c.(*net.TCPConn), backend)
	}
}

// serve copies both ways until each side has closed; the client's end of
// input is passed on as the backend's, so neither side is cut short.
func serve(c *net.TCPConn, backend string) {
	defer c.Close()
	conn, err := net.Dial("tcp", backend)
	if err != nil {
		log.Printf("floorproxy: %v", err)
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
