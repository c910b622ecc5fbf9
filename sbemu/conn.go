package sbemu

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// Connection-level constants.
const (
	// ourMaxFrameSize is the max-frame-size announced in open (and the
	// largest frame accepted).
	ourMaxFrameSize = 65536
	// ourChannelMax is the channel-max announced in open.
	ourChannelMax = 4999
	// handshakeTimeout bounds the protocol header, SASL and open exchange.
	handshakeTimeout = 10 * time.Second
	// readBufferSize is the socket read buffer of a connection.
	readBufferSize = 32 << 10
	// containerID is the broker's container-id.
	containerID = "sbemu"
)

var (
	headerSASL = amqp.ProtocolHeader{ID: amqp.ProtocolSASL, Major: 1}
	headerAMQP = amqp.ProtocolHeader{ID: amqp.ProtocolAMQP, Major: 1}
)

// errPeerClosed ends the read loop after the peer's close has been answered.
var errPeerClosed = errors.New("peer closed the connection")

// conn is one client connection: a read loop that owns the protocol state
// (under mu), a frame writer, a heartbeat goroutine and one delivery pump
// per receiving link.
type conn struct {
	s     *Server
	id    uint64
	nc    net.Conn
	br    *bufio.Reader // all reads go through it (fewer system calls)
	log   *slog.Logger
	debug bool
	w     *frameWriter

	grants grants

	mu           sync.Mutex          // guards the fields below and all session and link state
	sessions     map[uint16]*session // by the peer's channel
	localCh      map[uint16]*session // by our channel
	linkCount    int
	peerMaxFrame uint32
	peerIdle     time.Duration

	done      chan struct{} // closed when the connection shuts down
	abortOnce sync.Once
	wg        sync.WaitGroup // writer, heartbeat, pumps, delayed replies
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	log := s.log.With(slog.Uint64("conn", id), slog.String("remote_addr", nc.RemoteAddr().String()))
	return &conn{
		s:            s,
		id:           id,
		nc:           nc,
		br:           bufio.NewReaderSize(nc, readBufferSize),
		log:          log,
		debug:        log.Enabled(context.Background(), slog.LevelDebug),
		w:            newFrameWriter(nc),
		sessions:     map[uint16]*session{},
		localCh:      map[uint16]*session{},
		peerMaxFrame: ourMaxFrameSize,
		done:         make(chan struct{}),
	}
}

// abort closes the socket at once; serve then tears everything down.
func (c *conn) abort() {
	c.abortOnce.Do(func() {
		nc := c.nc
		if tc, ok := nc.(*tls.Conn); ok {
			nc = tc.NetConn() // no close_notify: cut the socket itself
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, like a crashed peer or a network fault
		}
		_ = nc.Close()
	})
}

// serve runs the connection until it ends, then waits for its goroutines.
func (c *conn) serve() {
	c.log.Debug("connection_opened")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// A writer that fails leaves nothing else worth doing.
		if err := c.w.run(); err != nil {
			c.abort()
		}
	}()
	err := c.handshake()
	if err == nil {
		c.wg.Add(1)
		go c.heartbeats()
		err = c.readLoop()
	}
	c.shutdown()
	c.w.stop()
	// Give the writer a moment to flush a final close frame, then cut.
	flushed := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(flushed)
	}()
	select {
	case <-flushed:
	case <-time.After(2 * time.Second):
		c.abort()
		<-flushed
	}
	c.abort()
	c.log.Debug("connection_closed", slog.String("reason", reason(err)))
}

func reason(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// shutdown marks the connection done and stops every link.
func (c *conn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	for _, s := range c.sessions {
		s.teardown()
	}
	c.sessions = map[uint16]*session{}
	c.localCh = map[uint16]*session{}
}

// send writes one frame and logs it at debug level.
func (c *conn) send(ch uint16, body amqp.Body) error {
	return c.sendFrame(amqp.Frame{Type: amqp.FrameTypeAMQP, Channel: ch, Body: body})
}

func (c *conn) sendFrame(f amqp.Frame) error {
	if c.debug {
		c.log.Debug("frame_out", slog.String("frame", f.String()))
	}
	return c.w.send(f)
}

// closeWith sends close(err); the read loop then ends.
func (c *conn) closeWith(e *amqp.Error) error {
	c.log.Info("connection_closing", slog.String("condition", string(e.Condition)), slog.String("description", e.Description))
	_ = c.send(0, &amqp.Close{Error: e})
	return e
}

// handshake runs protocol headers, SASL and the open exchange.
func (c *conn) handshake() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if tc, ok := c.nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			// Worth an operator's attention: usually a client that does not
			// trust the certificate, or one speaking plain AMQP to the TLS port.
			c.log.Warn("tls_handshake_failed", slog.String("error", err.Error()))
			return fmt.Errorf("tls handshake: %w", err)
		}
	}
	fr := amqp.NewFrameReader(c.br, ourMaxFrameSize)
	h, err := amqp.ReadProtocolHeader(c.br)
	if err != nil {
		_ = c.w.sendRaw(sliceOf(headerSASL.Bytes()))
		return fmt.Errorf("protocol header: %w", err)
	}
	if h == headerSASL {
		if err := c.sasl(fr); err != nil {
			return err
		}
		if h, err = amqp.ReadProtocolHeader(c.br); err != nil {
			return fmt.Errorf("protocol header after SASL: %w", err)
		}
		if h != headerAMQP {
			_ = c.w.sendRaw(sliceOf(headerAMQP.Bytes()))
			return fmt.Errorf("unsupported protocol header %v after SASL", h)
		}
	} else if h != headerAMQP {
		_ = c.w.sendRaw(sliceOf(headerSASL.Bytes()))
		return fmt.Errorf("unsupported protocol header %v", h)
	}
	_ = c.w.sendRaw(sliceOf(headerAMQP.Bytes()))

	f, err := fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read open: %w", err)
	}
	c.logIn(f)
	open, ok := f.Body.(*amqp.Open)
	if !ok || f.Type != amqp.FrameTypeAMQP || f.Channel != 0 {
		_ = c.send(0, &amqp.Open{ContainerID: containerID, MaxFrameSize: ourMaxFrameSize, ChannelMax: ourChannelMax})
		return c.closeWith(amqpErr(condNotAllowed, "expected open on channel 0"))
	}
	c.mu.Lock()
	c.peerMaxFrame = max(min(open.MaxFrameSize, ourMaxFrameSize*16), amqp.MinMaxFrameSize)
	if open.MaxFrameSize == 0 {
		c.peerMaxFrame = ourMaxFrameSize * 16
	}
	c.peerIdle = time.Duration(open.IdleTimeout) * time.Millisecond
	c.mu.Unlock()
	return c.send(0, &amqp.Open{
		ContainerID:  containerID,
		MaxFrameSize: ourMaxFrameSize,
		ChannelMax:   ourChannelMax,
		IdleTimeout:  uint32(c.s.opts.IdleTimeout / time.Millisecond),
		Properties:   amqp.Map{{Key: amqp.Symbol("product"), Value: "licensefix-sbemu"}},
	})
}

func sliceOf(b [8]byte) []byte { return b[:] }

// saslMechanisms are offered to clients; all of them succeed (authorization
// happens per entity through CBS).
var saslMechanisms = []amqp.Symbol{"ANONYMOUS", "PLAIN", "MSSBCBS"}

func (c *conn) sasl(fr *amqp.FrameReader) error {
	if err := c.w.sendRaw(sliceOf(headerSASL.Bytes())); err != nil {
		return err
	}
	if err := c.sendFrame(amqp.Frame{Type: amqp.FrameTypeSASL, Body: &amqp.SASLMechanisms{Mechanisms: saslMechanisms}}); err != nil {
		return err
	}
	f, err := fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read sasl-init: %w", err)
	}
	c.logIn(f)
	init, ok := f.Body.(*amqp.SASLInit)
	code := amqp.SASLCodeOK
	if !ok {
		code = amqp.SASLCodeSysPerm
	} else {
		known := false
		for _, m := range saslMechanisms {
			known = known || m == init.Mechanism
		}
		if !known {
			code = amqp.SASLCodeAuth
		}
	}
	if err := c.sendFrame(amqp.Frame{Type: amqp.FrameTypeSASL, Body: &amqp.SASLOutcome{Code: code}}); err != nil {
		return err
	}
	if code != amqp.SASLCodeOK {
		return errors.New("SASL failed")
	}
	return nil
}

func (c *conn) logIn(f amqp.Frame) {
	if c.debug {
		c.log.Debug("frame_in", slog.String("frame", f.String()))
	}
}

// heartbeats sends an empty frame whenever the connection has been quiet
// for the heartbeat interval (or half the peer's idle-time-out).
func (c *conn) heartbeats() {
	defer c.wg.Done()
	c.mu.Lock()
	every := c.s.opts.HeartbeatInterval
	if c.peerIdle > 0 {
		every = min(every, c.peerIdle/2)
	}
	c.mu.Unlock()
	every = max(every, 10*time.Millisecond)
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if c.w.idleFor() >= every/2 {
				if err := c.sendFrame(amqp.Frame{Type: amqp.FrameTypeAMQP}); err != nil {
					return
				}
			}
		}
	}
}

// readLoop reads and handles frames until the connection ends.
func (c *conn) readLoop() error {
	idle := 2 * c.s.opts.IdleTimeout
	fr := amqp.NewFrameReader(c.br, ourMaxFrameSize)
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				return c.closeWith(amqpErr(condResourceLimit, "idle timeout: nothing received for "+idle.String()))
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
				return err
			case errors.As(err, &ne):
				return err
			case errors.Is(err, amqp.ErrFrameTooLarge):
				return c.closeWith(amqpErr(condFramingError, "frame larger than the negotiated max-frame-size"))
			default:
				return c.closeWith(amqpErr(condDecode, "undecodable frame"))
			}
		}
		c.logIn(f)
		if f.Body == nil {
			continue // heartbeat
		}
		if f.Type != amqp.FrameTypeAMQP {
			return c.closeWith(amqpErr(condNotAllowed, "SASL frame after open"))
		}
		if err := c.handle(f); err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return c.closeWith(ae)
			}
			return err
		}
	}
}

// handle dispatches one frame under the connection lock.
func (c *conn) handle(f amqp.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch b := f.Body.(type) {
	case *amqp.Open:
		return amqpErr(condNotAllowed, "open received twice")
	case *amqp.Close:
		_ = c.send(0, &amqp.Close{})
		return errPeerClosed
	case *amqp.Begin:
		return c.begin(f.Channel, b)
	}
	s := c.sessions[f.Channel]
	if s == nil {
		return amqpErr(condNotAllowed, fmt.Sprintf("frame on channel %d, which has no session", f.Channel))
	}
	switch b := f.Body.(type) {
	case *amqp.End:
		c.endSession(s)
		return nil
	case *amqp.Attach:
		return s.attach(b)
	case *amqp.Flow:
		return s.flow(b)
	case *amqp.Transfer:
		return s.transfer(b, f.Payload)
	case *amqp.Disposition:
		return s.disposition(b)
	case *amqp.Detach:
		return s.detach(b)
	}
	return amqpErr(condNotAllowed, fmt.Sprintf("unexpected %T", f.Body))
}

// begin opens a session on the peer's channel ch.
func (c *conn) begin(ch uint16, b *amqp.Begin) error {
	switch {
	case b.RemoteChannel != nil:
		return amqpErr(condNotAllowed, "begin answering a session the emulator never started")
	case c.sessions[ch] != nil:
		return amqpErr(condNotAllowed, fmt.Sprintf("channel %d already has a session", ch))
	case len(c.sessions) >= c.s.opts.MaxSessions:
		return amqpErr(condResourceLimit, fmt.Sprintf("more than %d sessions on one connection", c.s.opts.MaxSessions))
	}
	local := uint16(0)
	for c.localCh[local] != nil {
		local++
	}
	s := newSession(c, ch, local, b)
	c.sessions[ch] = s
	c.localCh[local] = s
	rc := ch
	return c.send(local, &amqp.Begin{
		RemoteChannel:  &rc,
		NextOutgoingID: s.nextOutgoingID,
		IncomingWindow: sessionWindow,
		OutgoingWindow: sessionWindow,
		HandleMax:      maxHandle,
	})
}

// endSession answers the peer's end and forgets the session.
func (c *conn) endSession(s *session) {
	s.teardown()
	delete(c.sessions, s.remoteCh)
	delete(c.localCh, s.localCh)
	_ = c.send(s.localCh, &amqp.End{})
}
