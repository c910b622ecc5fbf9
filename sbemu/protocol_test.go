package sbemu

import (
	"fmt"
	"testing"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Raw-protocol tests for details the SDK tests cannot pin down: drain,
// echo, session windows, frame splitting, settle-mode echo, disposition
// ranges, lock-token byte order and annotation types.

// enqueue puts n messages with bodies "m0".."m(n-1)" straight into the queue.
func enqueue(t *testing.T, srv *Server, n int, size int) {
	t.Helper()
	q, err := srv.broker.Entity(DefaultQueueName)
	require.NoError(t, err)
	msgs := make([]broker.Message, n)
	for i := range msgs {
		m := &amqp.Message{Properties: &amqp.Properties{MessageID: fmt.Sprintf("id-%d", i)}}
		data := []byte(fmt.Sprintf("m%d", i))
		if size > len(data) {
			data = append(data, make([]byte, size-len(data))...)
		}
		m.SetData(data)
		msgs[i] = toBrokerMessage(m)
	}
	_, err = q.Send(msgs)
	require.NoError(t, err)
}

// authedRaw is a raw connection with session 0 begun and a CBS grant for
// the default queue.
func authedRaw(t *testing.T, srv *Server, open *amqp.Open, begin *amqp.Begin) *rawConn {
	r := dialRaw(t, srv)
	r.header(headerSASL)
	require.Equal(t, headerSASL, r.readHeader())
	r.next()
	r.send(0, &amqp.SASLInit{Mechanism: "ANONYMOUS"})
	r.next()
	r.header(headerAMQP)
	r.readHeader()
	r.send(0, open)
	_, ok := r.next().Body.(*amqp.Open)
	require.True(t, ok)
	r.send(0, begin)
	_, ok = r.next().Body.(*amqp.Begin)
	require.True(t, ok)
	r.cbsAuth(srv, "sb://"+srv.Addr()+"/"+DefaultQueueName)
	return r
}

func defaultOpen() *amqp.Open {
	return &amqp.Open{ContainerID: "raw", MaxFrameSize: 65536}
}

func defaultBegin() *amqp.Begin {
	return &amqp.Begin{IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 1000}
}

// attachReceiver attaches a receiver on handle h and returns the reply.
func (r *rawConn) attachReceiver(h uint32, snd, rcv *uint8) *amqp.Attach {
	r.t.Helper()
	r.send(0, &amqp.Attach{Name: fmt.Sprintf("recv-%d", h), Handle: h, Role: amqp.RoleReceiver,
		SndSettleMode: snd, RcvSettleMode: rcv,
		Source: &amqp.Source{Address: DefaultQueueName}, Target: &amqp.Target{Address: "me"}})
	for {
		if a, ok := r.next().Body.(*amqp.Attach); ok {
			return a
		}
	}
}

func (r *rawConn) credit(h, deliveryCount, credit uint32, drain, echo bool) {
	next := uint32(1) // one CBS request transfer was sent
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 5000, NextOutgoingID: 1, OutgoingWindow: 5000,
		Handle: &h, DeliveryCount: &deliveryCount, LinkCredit: &credit, Drain: drain, Echo: echo})
}

// nextOf reads frames until one of type T.
func nextOf[T amqp.Body](r *rawConn) (T, amqp.Frame) {
	r.t.Helper()
	for {
		f := r.next()
		if b, ok := f.Body.(T); ok {
			return b, f
		}
	}
}

func u8(v uint8) *uint8 { return &v }

func TestDrainOnEmptyQueue(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	a := r.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
	r.credit(1, 0, 5, true, false)
	f, _ := nextOf[*amqp.Flow](r)
	require.NotNil(t, f.Handle)
	assert.Equal(t, a.Handle, *f.Handle)
	assert.True(t, f.Drain)
	assert.Equal(t, uint32(0), *f.LinkCredit)
	assert.Equal(t, uint32(5), *f.DeliveryCount, "delivery-count advanced by the unused credit")
}

func TestDrainDeliversAvailableFirst(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	enqueue(t, srv, 2, 0)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	r.attachReceiver(1, u8(amqp.SndSettleModeSettled), u8(amqp.RcvSettleModeFirst))
	r.credit(1, 0, 5, true, false)
	for range 2 {
		tr, _ := nextOf[*amqp.Transfer](r)
		require.NotNil(t, tr.Settled)
		assert.True(t, *tr.Settled, "receive-and-delete deliveries are pre-settled")
	}
	f, _ := nextOf[*amqp.Flow](r)
	assert.True(t, f.Drain)
	assert.Equal(t, uint32(0), *f.LinkCredit)
	assert.Equal(t, uint32(5), *f.DeliveryCount)
}

func TestLinkFlowEcho(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	r.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
	r.credit(1, 0, 3, false, true)
	f, _ := nextOf[*amqp.Flow](r)
	require.NotNil(t, f.Handle)
	assert.Equal(t, uint32(3), *f.LinkCredit)
	assert.Equal(t, uint32(0), *f.DeliveryCount)
	assert.False(t, f.Drain)
}

func TestSettleModesEchoedOnAttach(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	for h, modes := range [][2]*uint8{
		{nil, u8(amqp.RcvSettleModeSecond)},
		{u8(amqp.SndSettleModeSettled), u8(amqp.RcvSettleModeFirst)},
		{u8(amqp.SndSettleModeUnsettled), u8(amqp.RcvSettleModeSecond)},
	} {
		a := r.attachReceiver(uint32(h+1), modes[0], modes[1])
		assert.Equal(t, modes[0], a.SndSettleMode)
		assert.Equal(t, modes[1], a.RcvSettleMode)
		require.NotNil(t, a.InitialDeliveryCount)
		assert.Zero(t, *a.InitialDeliveryCount)
		require.NotNil(t, a.MaxMessageSize)
		assert.Equal(t, uint64(DefaultMaxMessageSize), *a.MaxMessageSize)
		assert.Equal(t, amqp.RoleSender, a.Role)
		require.NotNil(t, a.Source)
		assert.Equal(t, DefaultQueueName, a.Source.Address)
	}
}

func TestDeliveryFormatAndLockTokenOrder(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	enqueue(t, srv, 1, 0)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	r.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
	r.credit(1, 0, 1, false, false)
	tr, f := nextOf[*amqp.Transfer](r)
	require.NotNil(t, tr.MessageFormat)
	assert.Zero(t, *tr.MessageFormat)
	require.NotNil(t, tr.Settled)
	assert.False(t, *tr.Settled)
	require.Len(t, tr.DeliveryTag, 16)
	m, err := amqp.DecodeMessage(f.Payload)
	require.NoError(t, err)
	require.NotNil(t, m.Header, "the header is always sent")
	assert.Zero(t, m.Header.DeliveryCount)
	for key, want := range map[amqp.Symbol]any{
		annSequenceNumber: int64(0), annEnqueueSequence: int64(0), annEnqueuedTime: time.Time{},
		annLockedUntil: time.Time{}, annMessageState: int64(0),
	} {
		v, ok := m.MessageAnnotations.Get(key)
		require.True(t, ok, "annotation %s missing", key)
		assert.IsType(t, want, v, "annotation %s", key)
	}
	// The tag is the lock token in .NET GUID order; undoing the swap gives
	// the RFC token the broker knows.
	tag := tr.DeliveryTag
	var tok [16]byte
	copy(tok[:], []byte{tag[3], tag[2], tag[1], tag[0], tag[5], tag[4], tag[7], tag[6]})
	copy(tok[8:], tag[8:])
	require.NoError(t, srv.ExpireLock(DefaultQueueName, tok))
}

func TestDispositionRangeAnsweredAsRange(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	enqueue(t, srv, 3, 0)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	r.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
	r.credit(1, 0, 3, false, false)
	var ids []uint32
	for range 3 {
		tr, _ := nextOf[*amqp.Transfer](r)
		ids = append(ids, *tr.DeliveryID)
	}
	last := ids[2]
	r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: ids[0], Last: &last, State: &amqp.Accepted{}})
	d, _ := nextOf[*amqp.Disposition](r)
	assert.Equal(t, amqp.RoleSender, d.Role)
	assert.True(t, d.Settled)
	assert.Equal(t, ids[0], d.First)
	require.NotNil(t, d.Last)
	assert.Equal(t, last, *d.Last)
	assert.IsType(t, &amqp.Accepted{}, d.State)
	st, err := srv.QueueStats(DefaultQueueName)
	require.NoError(t, err)
	assert.Equal(t, Stats{}, st)

	// Settling again: the locks are gone.
	enqueue(t, srv, 1, 0)
	r.credit(1, 3, 1, false, false)
	tr, _ := nextOf[*amqp.Transfer](r)
	r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: *tr.DeliveryID, Settled: true})
	require.Eventually(t, func() bool {
		st, _ := srv.QueueStats(DefaultQueueName)
		return st == Stats{Active: 1}
	}, 5*time.Second, 10*time.Millisecond, "settling without an outcome releases the message")
	r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: ids[0], State: &amqp.Accepted{}})
	d, _ = nextOf[*amqp.Disposition](r)
	rej, ok := d.State.(*amqp.Rejected)
	require.True(t, ok)
	assert.Equal(t, condLockLost, rej.Error.Condition)
}

func TestSessionIncomingWindowRespected(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	enqueue(t, srv, 5, 0)
	begin := defaultBegin()
	begin.IncomingWindow = 3 // the CBS response uses one
	r := authedRaw(t, srv, defaultOpen(), begin)
	r.attachReceiver(1, u8(amqp.SndSettleModeSettled), u8(amqp.RcvSettleModeFirst))
	h, dc, cr := uint32(1), uint32(0), uint32(10)
	next := uint32(1)
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 0, NextOutgoingID: 1, OutgoingWindow: 10, Handle: &h, DeliveryCount: &dc, LinkCredit: &cr})
	// With a window of 0 nothing may come; an echo proves the server has
	// processed the flow and is not about to send a transfer.
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 0, NextOutgoingID: 1, OutgoingWindow: 10, Echo: true})
	f, fr := nextOf[*amqp.Flow](r)
	_ = fr
	assert.Nil(t, f.Handle)
	st, err := srv.QueueStats(DefaultQueueName)
	require.NoError(t, err)
	assert.Equal(t, 5, st.Active, "nothing sent while the window is closed")

	// Open the window by two transfers: exactly two arrive.
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 2, NextOutgoingID: 1, OutgoingWindow: 10})
	for range 2 {
		nextOf[*amqp.Transfer](r)
	}
	require.Eventually(t, func() bool {
		st, _ := srv.QueueStats(DefaultQueueName)
		return st.Active == 3
	}, 5*time.Second, 10*time.Millisecond)
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 0, NextOutgoingID: 1, OutgoingWindow: 10, Echo: true})
	nextOf[*amqp.Flow](r)
	st, _ = srv.QueueStats(DefaultQueueName)
	assert.Equal(t, 3, st.Active)
}

func TestOutgoingTransfersSplitAtPeerMaxFrameSize(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	enqueue(t, srv, 1, 3000)
	open := defaultOpen()
	open.MaxFrameSize = 512
	r := authedRaw(t, srv, open, defaultBegin())
	r.attachReceiver(1, u8(amqp.SndSettleModeSettled), u8(amqp.RcvSettleModeFirst))
	r.credit(1, 0, 1, false, false)
	var payload []byte
	frames := 0
	for {
		tr, f := nextOf[*amqp.Transfer](r)
		frames++
		payload = append(payload, f.Payload...)
		if !tr.More {
			break
		}
	}
	assert.Greater(t, frames, 5)
	m, err := amqp.DecodeMessage(payload)
	require.NoError(t, err)
	data, err := m.Data()
	require.NoError(t, err)
	require.Len(t, data, 1)
	assert.Len(t, data[0], 3000)
}

func TestManagementErrorsAndCorrelation(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	mgmt := DefaultQueueName + "/$management"
	r.send(0, &amqp.Attach{Name: "mreq", Handle: 10, Role: amqp.RoleSender, Target: &amqp.Target{Address: mgmt}})
	r.send(0, &amqp.Attach{Name: "mresp", Handle: 11, Role: amqp.RoleReceiver, Source: &amqp.Source{Address: mgmt}, Target: &amqp.Target{Address: "mresp"}})
	r.credit(11, 0, 10, false, false)
	call := func(id any, op string, body amqp.Map) *amqp.Message {
		req := &amqp.Message{
			Properties:            &amqp.Properties{MessageID: id, ReplyTo: "mresp"},
			ApplicationProperties: amqp.Map{{Key: "operation", Value: op}},
		}
		if body != nil {
			require.NoError(t, req.SetValue(body))
		}
		payload, err := amqp.AppendMessage(nil, req)
		require.NoError(t, err)
		did := uint32(100)
		r.send(0, &amqp.Transfer{Handle: 10, DeliveryID: &did, DeliveryTag: []byte{9}}, payload...)
		_, f := nextOf[*amqp.Transfer](r)
		m, err := amqp.DecodeMessage(f.Payload)
		require.NoError(t, err)
		return m
	}
	m := call(uint64(77), "com.microsoft:no-such-op", nil)
	assert.Equal(t, uint64(77), m.Properties.CorrelationID, "correlation-id keeps the message-id's type")
	st, _ := m.ApplicationProperties.Get("statusCode")
	assert.Equal(t, int32(400), st)
	cond, _ := m.ApplicationProperties.Get("errorCondition")
	assert.Equal(t, condMSNotImplemented, cond)

	m = call("peek-1", opPeek, amqp.Map{{Key: "from-sequence-number", Value: int64(1)}, {Key: "message-count", Value: int32(5)}})
	st, _ = m.ApplicationProperties.Get("statusCode")
	assert.Equal(t, int32(204), st, "peek on an empty queue")
	assert.Empty(t, m.RawBody, "never an empty map body")

	m = call("renew-1", opRenewLock, amqp.Map{{Key: "lock-tokens", Value: amqp.NewArray(amqp.TypeCodeUUID, amqp.UUID{1})}})
	st, _ = m.ApplicationProperties.Get("statusCode")
	assert.Equal(t, int32(410), st)

	m = call("bad-1", opRenewLock, amqp.Map{{Key: "lock-tokens", Value: "not an array"}})
	st, _ = m.ApplicationProperties.Get("statusCode")
	assert.Equal(t, int32(400), st)

	enqueue(t, srv, 1, 0)
	m = call("peek-2", opPeek, amqp.Map{{Key: "from-sequence-number", Value: int64(0)}, {Key: "message-count", Value: int32(5)}})
	st, _ = m.ApplicationProperties.Get("statusCode")
	assert.Equal(t, int32(200), st)
	v, err := m.Value()
	require.NoError(t, err)
	list, ok := get(v.(amqp.Map), "messages").([]any)
	require.True(t, ok, "messages is a list")
	require.Len(t, list, 1)
	peeked, err := amqp.DecodeMessage(get(list[0].(amqp.Map), "message").([]byte))
	require.NoError(t, err)
	_, locked := peeked.MessageAnnotations.Get(annLockedUntil)
	assert.False(t, locked, "peeked messages carry no lock")
}

func TestRepliesWithoutCreditAreBounded(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := dialRaw(t, srv)
	r.open()
	r.begin(0)
	r.send(0, &amqp.Attach{Name: "req", Handle: 0, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
	r.send(0, &amqp.Attach{Name: "resp", Handle: 1, Role: amqp.RoleReceiver, Source: &amqp.Source{Address: addrCBS}})
	req := &amqp.Message{Properties: &amqp.Properties{MessageID: "x"}, ApplicationProperties: amqp.Map{{Key: "operation", Value: "nope"}}}
	payload, err := amqp.AppendMessage(nil, req)
	require.NoError(t, err)
	const sent = maxPendingReplies + 50
	settled := true
	for i := range uint32(sent) {
		r.send(0, &amqp.Transfer{Handle: 0, DeliveryID: &i, DeliveryTag: []byte{byte(i)}, Settled: &settled}, payload...)
	}
	h, dc, credit := uint32(1), uint32(0), uint32(5000)
	next := uint32(sent)
	r.send(0, &amqp.Flow{NextIncomingID: &next, IncomingWindow: 5000, NextOutgoingID: 0, OutgoingWindow: 5000,
		Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Echo: true})
	replies := 0
	for {
		f := r.next()
		if _, ok := f.Body.(*amqp.Transfer); ok {
			replies++
		}
		if fl, ok := f.Body.(*amqp.Flow); ok && fl.Handle != nil && *fl.Handle == 1 {
			break // the echo comes after the queued replies
		}
	}
	assert.Equal(t, maxPendingReplies, replies)
}

func TestDispositionOfUnknownRangeIsOneReply(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	last := uint32(1<<20 - 1)
	r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: 0, Last: &last, State: &amqp.Accepted{}})
	d, _ := nextOf[*amqp.Disposition](r)
	if d.Role == amqp.RoleReceiver { // the settlement of the CBS request
		d, _ = nextOf[*amqp.Disposition](r)
	}
	assert.Equal(t, amqp.RoleSender, d.Role)
	assert.Equal(t, uint32(0), d.First)
	require.NotNil(t, d.Last)
	assert.Equal(t, last, *d.Last)
	rej, ok := d.State.(*amqp.Rejected)
	require.True(t, ok)
	assert.Equal(t, condLockLost, rej.Error.Condition)
}
