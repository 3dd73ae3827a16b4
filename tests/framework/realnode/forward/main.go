// Command forward makes the API server, which listens in the cluster's
// control-plane network namespace, reachable on loopback in the machine's
// root namespace. The harness creates the listening socket in the root
// namespace and passes it as file descriptor 3; forward runs in the
// control plane's namespace and copies each accepted connection to and
// from -to, which it dials there. It is built and started by
// tests/framework/realnode.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"
)

func main() {
	to := flag.String("to", "", "host:port to dial for each connection")
	flag.Parse()
	if *to == "" {
		fmt.Fprintln(os.Stderr, "usage: forward -to host:port (listener on fd 3)")
		os.Exit(2)
	}
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	if err != nil {
		log.Fatalf("forward: fd 3 is not a listening socket: %v", err)
	}
	_ = f.Close()
	log.Printf("forward: %s -> %s", ln.Addr(), *to)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("forward: accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go serve(c, *to)
	}
}

// serve copies c to a new connection to addr and back, closing each
// direction's writer when its reader ends.
func serve(c net.Conn, addr string) {
	defer func() { _ = c.Close() }()
	u, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		log.Printf("forward: dialing %s: %v", addr, err)
		return
	}
	defer func() { _ = u.Close() }()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(u, c)
	go pipe(c, u)
	wg.Wait()
}
