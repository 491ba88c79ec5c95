// Command floorproxy passes mail from its clients to a backend and does
// nothing else: no checks, no spool, no headers. The load run puts it where
// the gateway stands, to measure what a proxy in Go costs on the same
// machine and load: the floor under the gateway's own figures.
//
// Usage: floorproxy -mode smtp|tcp -listen ADDR -backend ADDR. It runs
// until killed. In smtp mode it relays SMTP with go-smtp on both sides,
// each message streamed to a backend connection kept between sessions (as
// the gateway keeps its own); in tcp mode it copies bytes both ways over a
// new backend connection per client.
package main

import (
	"flag"
	"log"
)

func main() {
	mode := flag.String("mode", "smtp", "smtp or tcp")
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on")
	backend := flag.String("backend", "", "address of the backend")
	flag.Parse()
	var err error
	switch *mode {
	case "smtp":
		err = serveSMTP(*listen, *backend)
	case "tcp":
		err = serveTCP(*listen, *backend)
	default:
		log.Fatalf("floorproxy: -mode %q: want smtp or tcp", *mode)
	}
	log.Fatalf("floorproxy: %v", err)
}
