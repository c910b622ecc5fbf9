package sbemu

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// Options configure a Server. The zero value (or nil) gives the documented defaults.
type Options struct {
	// Addr is the TCP address to listen on for plain AMQP (the emulator
	// connection string, UseDevelopmentEmulator=true). Default "127.0.0.1:0"
	// (any free loopback port; read it back with Server.Addr).
	Addr string
	// TLSAddr, when set, is a second TCP address where the emulator serves
	// AMQP over TLS (amqps, as Service Bus does on port 5671), for SDKs that
	// have no emulator mode and always use TLS, such as Microsoft's Python
	// SDK on uamqp. "127.0.0.1:0" picks a free port (Server.TLSAddr).
	// Default "": no TLS listener.
	TLSAddr string
	// TLSCertFile and TLSKeyFile are the PEM files of the certificate
	// (chain) and private key the TLS listener presents; give both or
	// neither. Default: a self-signed certificate, generated at start and
	// valid for a year, for localhost, 127.0.0.1, ::1 and TLSAddr's host.
	TLSCertFile string
	TLSKeyFile  string
	// TLSCertOut, when set, is the file the generated certificate is
	// written to (PEM, no key) for clients to trust, e.g. as the Python
	// SDK's connection_verify. Only with a generated certificate. Default
	// "": not written (Server.TLSCertificatePEM returns it).
	TLSCertOut string
	// Config lists the queues. Default DefaultConfig(): one queue
	// "license-fixed" with LockDuration 1 minute and MaxDeliveryCount 10.
	Config *Config
	// KeyName is the shared access key name that SAS tokens must name.
	// Default "RootManageSharedAccessKey".
	KeyName string
	// Key is the shared access key SAS tokens are signed with. Default
	// "SAS_KEY_VALUE" (the value Microsoft's emulator documents).
	Key string
	// TrustJWT accepts CBS tokens of type "jwt" (Entra ID) without checking
	// them. Default false: they are refused with 401.
	TrustJWT bool
	// Logger receives connection events; at Debug level one line per frame
	// in and out (performative and key fields, never payloads or tokens).
	// Default: discard.
	Logger *slog.Logger
	// TB, when set, registers TB.Cleanup(Close).
	TB testing.TB
	// HeartbeatInterval is how often an empty frame is sent on a connection
	// that has sent nothing else (capped at half the peer's idle-time-out).
	// Default 15s.
	HeartbeatInterval time.Duration
	// IdleTimeout is the idle-time-out announced in open. A connection that
	// sends nothing (not even a heartbeat) for twice this long is closed with
	// amqp:resource-limit-exceeded. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxMessageSize is the largest message (or batch) accepted, announced as
	// the links' max-message-size. Default 262144 (256 KiB, the Standard tier).
	MaxMessageSize int
	// MaxSessions caps the sessions open at once on one connection.
	// Default 256.
	MaxSessions int
	// MaxLinks caps the links attached at once on one connection.
	// Default 1024.
	MaxLinks int
	// Clock tells the broker the time (lock expiry, scheduling, TTL) and
	// is used to check token expiry. Default the wall clock.
	Clock Clock
}

// Clock tells the emulator the time. Tests may inject a fake one.
type Clock interface{ Now() time.Time }

// Stats are the message counts of one entity, as returned by QueueStats.
type Stats struct {
	// Active messages are available to receivers.
	Active int
	// Locked messages are held by a peek-lock receiver, including those
	// whose receive link or connection has gone: they stay locked until
	// the lock expires (LINKLOSS.md).
	Locked int
	// Deferred messages wait for receive-by-sequence-number.
	Deferred int
	// Scheduled messages become active at their scheduled time.
	Scheduled int
}

// Defaults of Options.
const (
	DefaultAddr              = "127.0.0.1:0"
	DefaultKeyName           = "RootManageSharedAccessKey"
	DefaultKey               = "SAS_KEY_VALUE"
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxMessageSize    = 262144
	DefaultMaxSessions       = 256
	DefaultMaxLinks          = 1024
)

// withDefaults returns a copy of o with every zero field set to its default.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	r.Addr = orDefault(r.Addr, DefaultAddr)
	if r.Config == nil {
		r.Config = DefaultConfig()
	}
	r.KeyName = orDefault(r.KeyName, DefaultKeyName)
	r.Key = orDefault(r.Key, DefaultKey)
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.HeartbeatInterval = orDefault(r.HeartbeatInterval, DefaultHeartbeatInterval)
	r.IdleTimeout = orDefault(r.IdleTimeout, DefaultIdleTimeout)
	r.MaxMessageSize = orDefault(r.MaxMessageSize, DefaultMaxMessageSize)
	r.MaxSessions = orDefault(r.MaxSessions, DefaultMaxSessions)
	r.MaxLinks = orDefault(r.MaxLinks, DefaultMaxLinks)
	if r.Clock == nil {
		r.Clock = broker.SystemClock{}
	}
	return r
}

func (o *Options) validate() error {
	switch {
	case o.HeartbeatInterval < 0:
		return errors.New("sbemu: Options.HeartbeatInterval is negative")
	case o.IdleTimeout < time.Second || o.IdleTimeout > 24*time.Hour:
		return errors.New("sbemu: Options.IdleTimeout must be between 1s and 24h")
	case o.MaxMessageSize < 1024:
		return errors.New("sbemu: Options.MaxMessageSize must be at least 1024")
	case o.MaxSessions < 1 || o.MaxSessions > 65536:
		return errors.New("sbemu: Options.MaxSessions must be between 1 and 65536")
	case o.MaxLinks < 1:
		return errors.New("sbemu: Options.MaxLinks must be positive")
	}
	if err := o.validateTLS(); err != nil {
		return err
	}
	return o.Config.Validate()
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	ln     net.Listener
	tlsLn  net.Listener // nil without Options.TLSAddr
	tls    *tlsSetup    // nil without Options.TLSAddr
	broker *broker.Broker
	auth   authenticator
	faults faults
	locks  lockRegistry

	wake chan struct{} // pokes the sweeper when broker deadlines may have moved
	done chan struct{} // closed by Close

	mu     sync.Mutex
	conns  map[*conn]struct{}
	nextID uint64
	closed bool

	closeOnce sync.Once
	wg        sync.WaitGroup // accept loop, sweeper, connections
}

// NewServer validates opts, creates the queues, starts listening and serves
// in the background until Close. A nil opts means all defaults.
func NewServer(opts *Options) (*Server, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	queues, topics, err := o.Config.brokerConfigs()
	if err != nil {
		return nil, err
	}
	b, err := broker.NewWithTopics(o.Clock, queues, topics)
	if err != nil {
		return nil, fmt.Errorf("sbemu: %w", err)
	}
	var ts *tlsSetup
	if o.TLSAddr != "" {
		if ts, err = newTLSSetup(&o); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("sbemu: listen: %w", err)
	}
	var tlsLn net.Listener
	if ts != nil {
		raw, err := net.Listen("tcp", o.TLSAddr)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("sbemu: listen for TLS: %w", err)
		}
		tlsLn = tls.NewListener(raw, ts.config)
	}
	s := &Server{
		opts:   o,
		log:    o.Logger,
		ln:     ln,
		tlsLn:  tlsLn,
		tls:    ts,
		broker: b,
		auth:   authenticator{keyName: o.KeyName, key: []byte(o.Key), trustJWT: o.TrustJWT},
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		conns:  map[*conn]struct{}{},
	}
	s.wg.Add(2)
	go s.acceptLoop(ln)
	go s.sweepLoop()
	s.log.Info("emulator_listening", slog.String("addr", ln.Addr().String()))
	if tlsLn != nil {
		s.wg.Add(1)
		go s.acceptLoop(tlsLn)
		s.log.Info("emulator_listening_tls", slog.String("addr", tlsLn.Addr().String()),
			slog.Bool("generated_certificate", o.TLSCertFile == ""), slog.String("certificate_out", o.TLSCertOut))
	}
	if o.TB != nil {
		o.TB.Cleanup(func() { _ = s.Close() })
	}
	return s, nil
}

// Addr returns the address the server listens on, e.g. "127.0.0.1:5672".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ConnectionString returns an emulator connection string for this server:
// "Endpoint=sb://HOST:PORT;SharedAccessKeyName=NAME;SharedAccessKey=KEY;UseDevelopmentEmulator=true".
// When listening on all interfaces (0.0.0.0 or ::) HOST is 127.0.0.1.
func (s *Server) ConnectionString() string {
	return "Endpoint=sb://" + dialAddr(s.Addr()) + ";SharedAccessKeyName=" + s.opts.KeyName +
		";SharedAccessKey=" + s.opts.Key + ";UseDevelopmentEmulator=true"
}

// TLSAddr returns the address of the TLS listener, or "" without
// Options.TLSAddr.
func (s *Server) TLSAddr() string {
	if s.tlsLn == nil {
		return ""
	}
	return s.tlsLn.Addr().String()
}

// TLSConnectionString returns a connection string for the TLS listener,
// "Endpoint=sb://HOST:PORT;SharedAccessKeyName=NAME;SharedAccessKey=KEY"
// (no UseDevelopmentEmulator: the client uses amqps), or "" without
// Options.TLSAddr. The client must trust TLSCertificatePEM. The Go SDK
// dials the port of the Endpoint but checks the certificate for
// "HOST:PORT" unless its ClientOptions.TLSConfig sets ServerName (to
// HOST); Microsoft's Python SDK 7.8 ignores the port and always dials 5671.
func (s *Server) TLSConnectionString() string {
	if s.tlsLn == nil {
		return ""
	}
	return "Endpoint=sb://" + dialAddr(s.TLSAddr()) + ";SharedAccessKeyName=" + s.opts.KeyName +
		";SharedAccessKey=" + s.opts.Key
}

// TLSCertificatePEM returns the certificate chain the TLS listener
// presents, PEM-encoded (for a generated certificate: the self-signed
// certificate to trust), or nil without Options.TLSAddr.
func (s *Server) TLSCertificatePEM() []byte {
	if s.tls == nil {
		return nil
	}
	return append([]byte(nil), s.tls.certPEM...)
}

// dialAddr turns a listening address into one a local client can dial.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Sweep applies at once everything due at the Clock's current time: lock
// expiry, scheduled messages becoming active, TTL expiry. The server does
// this by itself on the wall clock; call Sweep after moving a fake
// Options.Clock forward.
func (s *Server) Sweep() {
	s.broker.Sweep()
	s.poke()
}

// Close stops listening, closes every connection and waits until all of the
// server's goroutines have ended. It is idempotent and always returns nil
// after the first call's result.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.done)
		err = closeListener(s.ln)
		if s.tlsLn != nil {
			err = errors.Join(err, closeListener(s.tlsLn))
		}
		for _, c := range conns {
			c.abort()
		}
		s.wg.Wait()
	})
	return err
}

// closeListener closes ln; an already closed listener is no error.
func closeListener(ln net.Listener) error {
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// acceptLoop serves the connections ln accepts until ln is closed.
func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary trouble (e.g. out of file descriptors): back off a little.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept_failed", slog.String("error", err.Error()))
			select {
			case <-time.After(delay):
				continue
			case <-s.done:
				return
			}
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.nextID++
		c := newConn(s, nc, s.nextID)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// poke wakes the sweeper early: a lock, a schedule or a TTL may have
// brought the next deadline forward.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// sweepLoop applies lock expiry, scheduled activation and TTL expiry on time.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	const idle = time.Minute
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-timer.C:
		case <-s.wake:
		}
		next := s.broker.Sweep()
		wait := idle
		if !next.IsZero() {
			wait = next.Sub(s.opts.Clock.Now())
			// A small floor keeps a clock that does not move (a fake) from spinning.
			wait = max(wait, time.Millisecond)
			wait = min(wait, idle)
		}
		timer.Reset(wait)
	}
}

// snapshotConns lists the open connections.
func (s *Server) snapshotConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// QueueStats returns the message counts of an entity: a queue ("q1"), a
// subscription ("t1/Subscriptions/s1"), either's dead-letter queue
// ("q1/$DeadLetterQueue") or a topic (whose only messages are scheduled ones).
func (s *Server) QueueStats(entity string) (Stats, error) {
	q, err := s.broker.Entity(entity)
	if err != nil {
		return Stats{}, fmt.Errorf("sbemu: %q: %w", entity, err)
	}
	st := q.Stats()
	return Stats{Active: st.Active, Locked: st.Locked, Deferred: st.Deferred, Scheduled: st.Scheduled}, nil
}
