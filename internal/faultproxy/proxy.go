package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// Mode is what the proxy does with traffic.
type Mode int

const (
	// Forward passes bytes both ways. It is the initial mode.
	Forward Mode = iota
	// Blackhole accepts connections and keeps them open but delivers no
	// byte in either direction until the mode changes.
	Blackhole
	// Reject closes every new connection as soon as it is accepted.
	// Connections already open are left alone (combine with Cut).
	Reject
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Forward:
		return "forward"
	case Blackhole:
		return "blackhole"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Stats counts what the proxy has done.
type Stats struct {
	// Accepted is the number of connections accepted.
	Accepted int
	// Rejected is the number closed at once in Reject mode.
	Rejected int
	// Cut is the number of connections closed by Cut.
	Cut int
	// Open is the number of connections open now.
	Open int
}

// Proxy forwards connections accepted on Addr to a target address. Its
// methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	resume  chan struct{} // closed when the mode leaves Blackhole
	conns   map[*pair]struct{}
	stats   Stats
	closed  bool
	wg      sync.WaitGroup // accept loop and every pump
	dialErr error
}

// pair is one proxied connection: the client's and the target's ends.
type pair struct {
	client, server net.Conn
	done           chan struct{} // closed by close
	once           sync.Once
}

func (p *pair) close() {
	p.once.Do(func() {
		close(p.done)
		_ = p.client.Close()
		_ = p.server.Close()
	})
}

// New starts a proxy listening on 127.0.0.1 at a free port that forwards
// to target (host:port). Close stops it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}, resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the proxy's mode; it applies at once to open
// connections (Blackhole pauses them, Forward resumes them).
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == p.mode {
		return
	}
	if m == Blackhole {
		p.resume = make(chan struct{})
	} else if p.mode == Blackhole {
		close(p.resume)
	}
	p.mode = m
}

// Cut closes every open connection, both ends, and reports how many it
// closed. New connections are accepted as the mode says.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	victims := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		victims = append(victims, c)
		delete(p.conns, c)
	}
	p.stats.Cut += len(victims)
	p.mu.Unlock()
	for _, c := range victims {
		c.close()
	}
	return len(victims)
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = len(p.conns)
	return s
}

// LastDialError is the most recent error dialling the target, or nil.
func (p *Proxy) LastDialError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialErr
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	if p.mode == Blackhole {
		close(p.resume)
		p.mode = Forward
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		p.stats.Accepted++
		if p.closed || p.mode == Reject {
			p.stats.Rejected++
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		p.mu.Unlock()
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Lock()
			p.dialErr = err
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		c := &pair{client: client, server: server, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pump(c, client, server)
		go p.pump(c, server, client)
	}
}

// pump copies src to dst, pausing while the proxy blackholes, until either
// end fails; then it closes both ends and forgets the pair.
func (p *Proxy) pump(c *pair, src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitForward(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a reset: either way the pair is finished
		}
	}
}

// waitForward blocks while the proxy blackholes and reports whether the
// pair is still open afterwards.
func (p *Proxy) waitForward(c *pair) bool {
	for {
		p.mu.Lock()
		_, open := p.conns[c]
		mode, resume := p.mode, p.resume
		p.mu.Unlock()
		if !open {
			return false
		}
		if mode != Blackhole {
			return true
		}
		select {
		case <-resume:
		case <-c.done:
			return false
		}
	}
}
