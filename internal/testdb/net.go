package testdb

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Blackhole returns the address (127.0.0.1:port) of a TCP listener that
// accepts every connection and never writes a byte or closes it: a host that
// "accepts but never answers", for testing connect and query timeouts.
// Its cleanup closes the listener and every accepted connection and waits
// for its goroutine to exit.
func Blackhole(t testing.TB) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: Blackhole: %v", err)
		return ""
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			mu.Lock()
			conns = append(conns, conn) // held open, never read or written
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done // no Accept after this, so conns is final
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			_ = conn.Close()
		}
	})
	return ln.Addr().String()
}

// ClosedPort returns an address (127.0.0.1:port) where nothing listens, so
// connecting is refused at once. The port was free a moment ago (a listener
// was bound to it and closed) and lies outside the kernel's ephemeral port
// range, so no outgoing connection takes it and repeated attempts cannot
// connect to themselves.
func ClosedPort(t testing.TB) (addr string) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testdb: ClosedPort: %v", err)
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago (a
// listener was bound to it and closed). It lies outside the kernel's
// ephemeral range, so that while nothing listens on it no outgoing
// connection takes it as its local port, and repeated connection attempts
// to it cannot connect to themselves (TCP simultaneous open). Used for
// ClosedPort and for clusters, which Stop and Start on the same port.
func freePort() (int, error) {
	lo, hi := 20000, 32767
	if elo, ehi, ok := ephemeralRange(); ok {
		switch {
		case elo > 10000+1000:
			lo, hi = 10000, elo-1
		case ehi < 65535-1000:
			lo, hi = ehi+1, 65535
		}
	}
	var lastErr error
	for range 200 {
		port := lo + rand.IntN(hi-lo+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		return port, ln.Close()
	}
	return 0, fmt.Errorf("no free port in %d-%d: %w", lo, hi, lastErr)
}

// ephemeralRange reads net.ipv4.ip_local_port_range.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err != nil || lo <= 0 || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}
