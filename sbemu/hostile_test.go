package sbemu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawConn is a hand-driven AMQP client for protocol and hostile-input tests.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr *amqp.FrameReader
}

func dialRaw(t *testing.T, srv *Server) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawConn{t: t, nc: nc, fr: amqp.NewFrameReader(nc, 1<<20)}
}

func (r *rawConn) write(b []byte) {
	_, err := r.nc.Write(b)
	require.NoError(r.t, err)
}

func (r *rawConn) header(h amqp.ProtocolHeader) {
	b := h.Bytes()
	r.write(b[:])
}

func (r *rawConn) readHeader() amqp.ProtocolHeader {
	h, err := amqp.ReadProtocolHeader(r.nc)
	require.NoError(r.t, err)
	return h
}

func (r *rawConn) send(ch uint16, body amqp.Body, payload ...byte) {
	typ := amqp.FrameTypeAMQP
	switch body.(type) {
	case *amqp.SASLInit:
		typ = amqp.FrameTypeSASL
	}
	b, err := amqp.AppendFrame(nil, amqp.Frame{Type: typ, Channel: ch, Body: body, Payload: payload})
	require.NoError(r.t, err)
	r.write(b)
}

// next reads the next non-heartbeat frame.
func (r *rawConn) next() amqp.Frame {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		require.NoError(r.t, err)
		if f.Body != nil {
			return f
		}
	}
}

// open runs SASL ANONYMOUS and the open exchange.
func (r *rawConn) open() {
	r.t.Helper()
	r.header(headerSASL)
	require.Equal(r.t, headerSASL, r.readHeader())
	_, ok := r.next().Body.(*amqp.SASLMechanisms)
	require.True(r.t, ok)
	r.send(0, &amqp.SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte("anonymous")})
	out, ok := r.next().Body.(*amqp.SASLOutcome)
	require.True(r.t, ok)
	require.Equal(r.t, amqp.SASLCodeOK, out.Code)
	r.header(headerAMQP)
	require.Equal(r.t, headerAMQP, r.readHeader())
	r.send(0, &amqp.Open{ContainerID: "raw", MaxFrameSize: 65536, ChannelMax: 100})
	open, ok := r.next().Body.(*amqp.Open)
	require.True(r.t, ok)
	require.Equal(r.t, uint32(ourMaxFrameSize), open.MaxFrameSize)
}

// begin opens a session on channel ch.
func (r *rawConn) begin(ch uint16) {
	r.t.Helper()
	r.send(ch, &amqp.Begin{IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 1000})
	_, ok := r.next().Body.(*amqp.Begin)
	require.True(r.t, ok)
}

// expectClose reads until a close frame and returns its error condition,
// then checks the server ends the connection.
func (r *rawConn) expectClose() amqp.Symbol {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		require.NoError(r.t, err, "wanted a close frame")
		if c, ok := f.Body.(*amqp.Close); ok {
			require.NotNil(r.t, c.Error)
			r.expectEOF()
			return c.Error.Condition
		}
	}
}

// expectEOF checks the server closes the socket.
func (r *rawConn) expectEOF() {
	r.t.Helper()
	_, err := io.Copy(io.Discard, r.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("server did not close the connection")
	}
}

func hostileServer(t *testing.T, o *Options) *Server {
	if o == nil {
		o = &Options{}
	}
	o.TB = t
	o.Logger = testLogger()
	srv, err := NewServer(o)
	require.NoError(t, err)
	return srv
}

// stillServes checks that the SDK still works against srv.
func stillServes(t *testing.T, srv *Server) {
	e := &confEnv{connStr: srv.ConnectionString(), queue: DefaultQueueName, srv: srv}
	e.client = newTestClient(t, e.connStr)
	e.send(t, body("still here"))
	r := e.receiver(t, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	assert.Equal(t, "still here", string(receiveOne(t, r).Body))
}

func TestHostileGarbageGetsOurHeader(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := dialRaw(t, srv)
	r.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	assert.Equal(t, headerSASL, r.readHeader())
	r.expectEOF()
	stillServes(t, srv)
}

func TestHostileUnsupportedVersion(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	for _, h := range []amqp.ProtocolHeader{
		{ID: amqp.ProtocolAMQP, Major: 2},
		{ID: amqp.ProtocolTLS, Major: 1},
		{ID: 9, Major: 1},
	} {
		r := dialRaw(t, srv)
		r.header(h)
		assert.Equal(t, headerSASL, r.readHeader())
		r.expectEOF()
	}
}

func TestHostileFrameLargerThanNegotiated(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := dialRaw(t, srv)
	r.open()
	hdr := make([]byte, 8)
	binary.BigEndian.PutUint32(hdr, 1<<30) // declared, never sent
	hdr[4], hdr[5] = 2, amqp.FrameTypeAMQP
	r.write(hdr)
	assert.Equal(t, condFramingError, r.expectClose())
	stillServes(t, srv)
}

func TestHostileAbsurdCountsAndNesting(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	// An attach whose list32 claims 2^31 elements.
	absurd := []byte{0x00, 0x53, 0x12, 0xd0, 0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x00, 0xa1, 0x01, 'x'}
	// An attach whose first field nests lists far past MaxDepth.
	var deep bytes.Buffer
	deep.Write([]byte{0x00, 0x53, 0x12})
	for range 2000 {
		deep.Write([]byte{0xc0, 0xff, 0x01})
	}
	for _, body := range [][]byte{absurd, deep.Bytes()} {
		r := dialRaw(t, srv)
		r.open()
		frame := make([]byte, 8, 8+len(body))
		binary.BigEndian.PutUint32(frame, uint32(8+len(body)))
		frame[4], frame[5] = 2, amqp.FrameTypeAMQP
		r.write(append(frame, body...))
		assert.Equal(t, condDecode, r.expectClose())
	}
	stillServes(t, srv)
}

func TestHostileFloodOfSessionsAndLinks(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, &Options{MaxSessions: 8, MaxLinks: 16})

	r := dialRaw(t, srv)
	r.open()
	for ch := range uint16(8) {
		r.begin(ch)
	}
	r.send(8, &amqp.Begin{IncomingWindow: 10, OutgoingWindow: 10})
	assert.Equal(t, condResourceLimit, r.expectClose())

	r = dialRaw(t, srv)
	r.open()
	r.begin(0)
	for h := range uint32(16) {
		r.send(0, &amqp.Attach{Name: "cbs", Handle: h, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
		_, ok := r.next().Body.(*amqp.Attach)
		require.True(t, ok)
		_, ok = r.next().Body.(*amqp.Flow)
		require.True(t, ok)
	}
	r.send(0, &amqp.Attach{Name: "one-too-many", Handle: 16, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
	assert.Equal(t, condResourceLimit, r.expectClose())
	stillServes(t, srv)
}

func TestHostileProtocolViolations(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	for _, tc := range []struct {
		name string
		do   func(r *rawConn)
		want amqp.Symbol
	}{
		{"frame on a channel without session", func(r *rawConn) {
			r.send(7, &amqp.Flow{IncomingWindow: 1})
		}, condNotAllowed},
		{"transfer on an unattached handle", func(r *rawConn) {
			r.begin(0)
			id := uint32(0)
			r.send(0, &amqp.Transfer{Handle: 42, DeliveryID: &id, DeliveryTag: []byte{1}}, 0x00, 0x53, 0x75, 0xa0, 0x00)
		}, condUnattachedHandle},
		{"handle reused while attached", func(r *rawConn) {
			r.begin(0)
			r.send(0, &amqp.Attach{Name: "a", Handle: 1, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
			r.next()
			r.next()
			r.send(0, &amqp.Attach{Name: "b", Handle: 1, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
		}, condHandleInUse},
		{"second open", func(r *rawConn) {
			r.send(0, &amqp.Open{ContainerID: "again"})
		}, condNotAllowed},
		{"huge disposition range", func(r *rawConn) {
			r.begin(0)
			last := uint32(1 << 31)
			r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: 0, Last: &last, State: &amqp.Accepted{}})
		}, condInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, srv)
			r.open()
			tc.do(r)
			assert.Equal(t, tc.want, r.expectClose())
		})
	}
	stillServes(t, srv)
}

func TestIdleConnectionIsClosed(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, &Options{IdleTimeout: time.Second, HeartbeatInterval: time.Hour})
	r := dialRaw(t, srv)
	r.open()
	// Say nothing for 2× the announced idle-time-out.
	assert.Equal(t, condResourceLimit, r.expectClose())
}

func TestServerSendsHeartbeats(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, &Options{HeartbeatInterval: 50 * time.Millisecond})
	r := dialRaw(t, srv)
	r.open()
	f, err := r.fr.ReadFrame()
	require.NoError(t, err)
	assert.Nil(t, f.Body, "expected an empty (heartbeat) frame, got %v", f)
	// And the server accepts ours.
	r.write([]byte{0, 0, 0, 8, 2, 0, 0, 0})
	r.send(0, &amqp.Close{})
	for {
		f := r.next()
		if _, ok := f.Body.(*amqp.Close); ok {
			break
		}
	}
}

// cbsAuth runs a put-token exchange for audience on the raw connection
// (session 0 must be begun; handles 900 and 901 are used).
func (r *rawConn) cbsAuth(srv *Server, audience string) {
	r.t.Helper()
	snd, rcv := uint8(amqp.SndSettleModeSettled), uint8(amqp.RcvSettleModeFirst)
	r.send(0, &amqp.Attach{Name: "cbs-req", Handle: 900, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
	r.send(0, &amqp.Attach{Name: "cbs-resp", Handle: 901, Role: amqp.RoleReceiver, SndSettleMode: &snd, RcvSettleMode: &rcv,
		Source: &amqp.Source{Address: addrCBS}, Target: &amqp.Target{Address: "cbs-resp"}})
	credit := uint32(10)
	h := uint32(901)
	zero := uint32(0)
	r.send(0, &amqp.Flow{IncomingWindow: 5000, OutgoingWindow: 5000, NextIncomingID: &zero, Handle: &h, DeliveryCount: &zero, LinkCredit: &credit})
	req := &amqp.Message{
		Properties: &amqp.Properties{MessageID: "req-1", ReplyTo: "cbs-resp"},
		ApplicationProperties: amqp.Map{
			{Key: "operation", Value: "put-token"},
			{Key: "type", Value: tokenTypeSAS},
			{Key: "name", Value: audience},
		},
	}
	require.NoError(r.t, req.SetValue(signSAS(audience, srv.opts.KeyName, srv.opts.Key, time.Now().Add(time.Hour))))
	payload, err := amqp.AppendMessage(nil, req)
	require.NoError(r.t, err)
	id := uint32(0)
	r.send(0, &amqp.Transfer{Handle: 900, DeliveryID: &id, DeliveryTag: []byte{1}}, payload...)
	for {
		f := r.next()
		if _, ok := f.Body.(*amqp.Transfer); ok {
			m, err := amqp.DecodeMessage(f.Payload)
			require.NoError(r.t, err)
			st, _ := m.ApplicationProperties.Get("status-code")
			require.Equal(r.t, int32(200), st)
			assert.Equal(r.t, "req-1", m.Properties.CorrelationID)
			return
		}
	}
}

func TestOversizeTransferRejectedByServer(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, &Options{MaxMessageSize: 2048})
	r := dialRaw(t, srv)
	r.open()
	r.begin(0)
	r.cbsAuth(srv, "amqp://"+srv.Addr()+"/"+DefaultQueueName)
	r.send(0, &amqp.Attach{Name: "s", Handle: 1, Role: amqp.RoleSender, Target: &amqp.Target{Address: DefaultQueueName}})
	var msg amqp.Message
	msg.SetData(bytes.Repeat([]byte("x"), 4000))
	payload, err := amqp.AppendMessage(nil, &msg)
	require.NoError(t, err)
	id := uint32(1)
	// Two frames; the server stops buffering once the limit is passed.
	r.send(0, &amqp.Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{2}, More: true}, payload[:2500]...)
	r.send(0, &amqp.Transfer{Handle: 1}, payload[2500:]...)
	for {
		f := r.next()
		d, ok := f.Body.(*amqp.Disposition)
		if !ok || d.First != id {
			continue
		}
		rej, ok := d.State.(*amqp.Rejected)
		require.True(t, ok, "want rejected, got %T", d.State)
		assert.Equal(t, condMessageSizeExceed, rej.Error.Condition)
		assert.True(t, d.Settled)
		break
	}
	st, err := srv.QueueStats(DefaultQueueName)
	require.NoError(t, err)
	assert.Zero(t, st.Active)

	// An aborted delivery is discarded without an answer; the next one works.
	id = 2
	r.send(0, &amqp.Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{3}, More: true}, payload[:100]...)
	r.send(0, &amqp.Transfer{Handle: 1, Aborted: true})
	msg.SetData([]byte("small"))
	small, err := amqp.AppendMessage(nil, &msg)
	require.NoError(t, err)
	id = 3
	r.send(0, &amqp.Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{4}}, small...)
	for {
		f := r.next()
		d, ok := f.Body.(*amqp.Disposition)
		if !ok {
			continue
		}
		require.Equal(t, uint32(3), d.First, "the aborted delivery must not be answered")
		_, ok = d.State.(*amqp.Accepted)
		assert.True(t, ok)
		break
	}
	st, err = srv.QueueStats(DefaultQueueName)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Active)
}

func TestUnauthorizedAttachRefused(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := dialRaw(t, srv)
	r.open()
	r.begin(0)
	r.send(0, &amqp.Attach{Name: "r", Handle: 0, Role: amqp.RoleReceiver, Source: &amqp.Source{Address: DefaultQueueName}})
	a, ok := r.next().Body.(*amqp.Attach)
	require.True(t, ok)
	assert.Nil(t, a.Source, "a refused receiver gets a null source")
	d, ok := r.next().Body.(*amqp.Detach)
	require.True(t, ok)
	require.NotNil(t, d.Error)
	assert.Equal(t, condUnauthorized, d.Error.Condition)
	assert.True(t, d.Closed)
}

func TestOversizeCBSRequestRejected(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := dialRaw(t, srv)
	r.open()
	r.begin(0)
	r.send(0, &amqp.Attach{Name: "c", Handle: 0, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
	chunk := bytes.Repeat([]byte{0}, 60000)
	id := uint32(0)
	r.send(0, &amqp.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1}, More: true}, chunk...)
	r.send(0, &amqp.Transfer{Handle: 0, More: true}, chunk...)
	r.send(0, &amqp.Transfer{Handle: 0}, chunk...)
	d, _ := nextOf[*amqp.Disposition](r)
	rej, ok := d.State.(*amqp.Rejected)
	require.True(t, ok, "want rejected, got %T", d.State)
	assert.Equal(t, condMessageSizeExceed, rej.Error.Condition)
}
