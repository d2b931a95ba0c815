package testdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ProxyMode is what a [Proxy] does with connections.
type ProxyMode int

// The modes of a [Proxy].
const (
	// ModePass forwards both directions unchanged (the default).
	ModePass ProxyMode = iota
	// ModeRefuse resets every new connection as soon as it is accepted
	// (RST, SO_LINGER 0): the client's first read or write fails at once
	// with "connection reset by peer". Open connections keep forwarding.
	ModeRefuse
	// ModeDelay holds every forwarded chunk, in both directions, for the
	// delay before writing it on.
	ModeDelay
	// ModeBlackhole accepts new connections and neither forwards nor
	// answers anything, on new and open connections alike: a chunk read
	// while the mode lasts is held (as TCP would retransmit it) and
	// forwarded once the proxy leaves the mode. A connection accepted in the
	// mode reaches the target only then.
	ModeBlackhole
)

// String names the mode.
func (m ProxyMode) String() string {
	switch m {
	case ModePass:
		return "pass"
	case ModeRefuse:
		return "refuse"
	case ModeDelay:
		return "delay"
	case ModeBlackhole:
		return "blackhole"
	}
	return fmt.Sprintf("ProxyMode(%d)", int(m))
}

// Proxy is a TCP proxy on 127.0.0.1 in front of a target address, for fault
// injection: its mode can be switched at any time (Pass, Refuse, Delay,
// Blackhole), Cut severs every open connection, and Accepted counts the
// connections it accepted. Safe for concurrent use. Start one with
// [StartProxy]; the test's cleanup closes it.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by Close: ends dials and waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection handler

	accepted atomic.Int64
	cut      atomic.Int64
	stalled  atomic.Int64 // chunks and dials held by Blackhole right now

	mu      sync.Mutex
	mode    ProxyMode
	delay   time.Duration
	changed chan struct{} // closed (and replaced) on every mode change
	links   map[*link]struct{}
	closed  bool
}

// link is one accepted connection and, once dialled, its upstream one.
type link struct {
	client   net.Conn
	server   net.Conn        // nil until dialled; guarded by Proxy.mu
	ctx      context.Context // ends when the link stops
	cancel   context.CancelFunc
	stopOnce sync.Once
}

// stop closes both sides at once, resetting them (SO_LINGER 0) so that both
// peers see the connection broken rather than ended.
func (l *link) stop(p *Proxy) {
	l.stopOnce.Do(func() {
		l.cancel()
		p.mu.Lock()
		server := l.server
		p.mu.Unlock()
		for _, c := range []net.Conn{l.client, server} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	})
}

// StartProxy listens on 127.0.0.1:0 and forwards every connection to target
// (host:port) in pass-through mode. t.Cleanup closes the listener and every
// connection and waits for all of the proxy's goroutines.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	if _, _, err := net.SplitHostPort(target); err != nil {
		t.Fatalf("testdb: StartProxy: target %q: %v", target, err)
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: StartProxy: %v", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:  target,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		changed: make(chan struct{}),
		links:   map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// DSN returns dsn (a postgres:// URL or a libpq key=value string) pointing
// at the proxy instead of its own host and port.
func (p *Proxy) DSN(t testing.TB, dsn string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.Addr())
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("testdb: Proxy.DSN: %v", err)
			return ""
		}
		u.Host = p.Addr()
		return u.String()
	}
	// Key/value form: later keys override earlier ones.
	return dsn + " host=" + host + " port=" + port
}

// Pass makes the proxy forward unchanged.
func (p *Proxy) Pass() { p.setMode(ModePass, 0) }

// Refuse makes the proxy reset every new connection at once.
func (p *Proxy) Refuse() { p.setMode(ModeRefuse, 0) }

// Delay makes the proxy hold every forwarded chunk for d, both ways.
func (p *Proxy) Delay(d time.Duration) { p.setMode(ModeDelay, d) }

// Blackhole makes the proxy accept and never forward nor answer, on new and
// open connections, until the mode changes.
func (p *Proxy) Blackhole() { p.setMode(ModeBlackhole, 0) }

// Mode is the current mode (and, for ModeDelay, the delay).
func (p *Proxy) Mode() (ProxyMode, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.delay
}

func (p *Proxy) setMode(m ProxyMode, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.delay = m, d
	close(p.changed)
	p.changed = make(chan struct{})
}

// Cut resets every open connection now, on both sides, and reports how many
// it cut. The proxy keeps accepting afterwards, in its current mode.
func (p *Proxy) Cut() int {
	n := p.stopAll()
	p.cut.Add(int64(n))
	return n
}

func (p *Proxy) stopAll() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.stop(p)
	}
	return len(links)
}

// Accepted is the number of connections accepted so far, in every mode
// (including those Refuse reset at once).
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// CutCount is the number of connections Cut has severed so far.
func (p *Proxy) CutCount() int64 { return p.cut.Load() }

// Stalled is the number of chunks and connections that Blackhole holds
// right now: a chunk read from one side and not forwarded, a connection
// accepted and not yet dialled through. A test can wait for it to know a
// request reached the proxy and is held.
func (p *Proxy) Stalled() int64 { return p.stalled.Load() }

// Open is the number of connections currently open through the proxy
// (forwarding, delayed or held by Blackhole).
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops accepting, resets every connection and waits for all of the
// proxy's goroutines. It is idempotent; the test's cleanup calls it.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	_ = p.ln.Close()
	p.stopAll()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (EMFILE, ECONNABORTED…): keep serving unless closed.
			select {
			case <-p.ctx.Done():
				return
			default:
				continue
			}
		}
		p.accepted.Add(1)
		l := &link{client: conn}
		l.ctx, l.cancel = context.WithCancel(p.ctx)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.stop(p)
			return
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// gate waits while the proxy is in Blackhole mode and returns the mode and
// delay to apply; ok is false when the link was stopped meanwhile.
func (p *Proxy) gate(l *link) (m ProxyMode, d time.Duration, ok bool) {
	for held := false; ; {
		p.mu.Lock()
		m, d, changed := p.mode, p.delay, p.changed
		p.mu.Unlock()
		if m != ModeBlackhole {
			if held {
				p.stalled.Add(-1)
			}
			return m, d, true
		}
		if !held {
			held = true
			p.stalled.Add(1)
		}
		select {
		case <-changed:
		case <-l.ctx.Done():
			p.stalled.Add(-1)
			return m, d, false
		}
	}
}

func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		l.stop(p)
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	m, _, ok := p.gate(l)
	if !ok || m == ModeRefuse {
		return // stop resets the client
	}
	// A Cut or Close during the dial ends it.
	server, err := (&net.Dialer{}).DialContext(l.ctx, "tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	l.server = server
	p.mu.Unlock()
	if l.ctx.Err() != nil { // stopped meanwhile: stop may not have seen server
		_ = server.Close()
		return
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(l, server, l.client) }()
	go func() { defer pumps.Done(); p.pump(l, l.client, server) }()
	pumps.Wait()
}

// pump copies src to dst chunk by chunk, applying the mode to each chunk.
// When either direction ends, the link stops.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	defer l.stop(p)
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, d, ok := p.gate(l)
			if !ok {
				return
			}
			if m == ModeDelay && d > 0 {
				timer := time.NewTimer(d)
				select {
				case <-timer.C:
				case <-l.ctx.Done():
					timer.Stop()
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
