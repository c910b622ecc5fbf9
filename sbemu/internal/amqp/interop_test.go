package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file checks the codec against the real go-amqp client (the stack
// under azservicebus): a scripted peer built only from this package's
// frames talks to an unmodified go-amqp connection over loopback TCP.
// Everything go-amqp sends must decode, and everything the peer sends must
// be accepted and understood by go-amqp.

// scriptedPeer is a minimal broker for one connection: it accepts
// ANONYMOUS SASL, opens, begins, attaches links, grants credit, accepts
// incoming transfers and delivers one message to the first receiver link.
type scriptedPeer struct {
	conn     net.Conn
	fr       *FrameReader
	out      []byte
	toClient *Message

	received    chan *Message      // messages the client sent
	settled     chan *Disposition  // dispositions the client sent
	attaches    chan *Attach       // attaches the client sent
	openFromCli chan *Open         // the client's open
	delivered   bool               // toClient has been sent
	peerHandles map[uint32]*Attach // client handle -> attach
}

func (p *scriptedPeer) send(ch uint16, typ uint8, body Body, payload []byte) error {
	var err error
	p.out, err = AppendFrame(p.out[:0], Frame{Type: typ, Channel: ch, Body: body, Payload: payload})
	if err != nil {
		return err
	}
	_, err = p.conn.Write(p.out)
	return err
}

func (p *scriptedPeer) run() error {
	if err := p.conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return err
	}
	hdr, err := ReadProtocolHeader(p.conn)
	if err != nil {
		return err
	}
	if hdr != (ProtocolHeader{ID: ProtocolSASL, Major: 1}) {
		return fmt.Errorf("unexpected protocol header %+v", hdr)
	}
	b := hdr.Bytes()
	if _, err := p.conn.Write(b[:]); err != nil {
		return err
	}
	if err := p.send(0, FrameTypeSASL, &SASLMechanisms{Mechanisms: []Symbol{"MSSBCBS", "ANONYMOUS"}}, nil); err != nil {
		return err
	}
	f, err := p.fr.ReadFrame()
	if err != nil {
		return err
	}
	init, ok := f.Body.(*SASLInit)
	if !ok || init.Mechanism != "ANONYMOUS" {
		return fmt.Errorf("unexpected SASL frame %v", f)
	}
	if err := p.send(0, FrameTypeSASL, &SASLOutcome{Code: SASLCodeOK}, nil); err != nil {
		return err
	}
	if hdr, err = ReadProtocolHeader(p.conn); err != nil {
		return err
	}
	b = hdr.Bytes()
	if _, err := p.conn.Write(b[:]); err != nil {
		return err
	}
	var deliveryID uint32
	for {
		f, err := p.fr.ReadFrame()
		if err != nil {
			return err
		}
		switch body := f.Body.(type) {
		case nil: // heartbeat
		case *Open:
			p.openFromCli <- body
			if err := p.send(0, FrameTypeAMQP, &Open{ContainerID: "peer", MaxFrameSize: 65536, ChannelMax: 4999, IdleTimeout: 120000}, nil); err != nil {
				return err
			}
		case *Begin:
			ch := f.Channel
			if err := p.send(f.Channel, FrameTypeAMQP, &Begin{RemoteChannel: &ch, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 255}, nil); err != nil {
				return err
			}
		case *Attach:
			p.attaches <- body
			p.peerHandles[body.Handle] = body
			reply := &Attach{Name: body.Name, Handle: body.Handle, Role: !body.Role, SndSettleMode: body.SndSettleMode,
				RcvSettleMode: body.RcvSettleMode, Source: body.Source, Target: body.Target}
			if body.Role == RoleSender {
				reply.MaxMessageSize = ptr(uint64(262144))
			} else {
				reply.InitialDeliveryCount = ptr(uint32(0))
			}
			if err := p.send(f.Channel, FrameTypeAMQP, reply, nil); err != nil {
				return err
			}
			if body.Role == RoleSender {
				flow := &Flow{NextIncomingID: ptr(uint32(0)), IncomingWindow: 5000, OutgoingWindow: 5000,
					Handle: ptr(body.Handle), DeliveryCount: ptr(uint32(0)), LinkCredit: ptr(uint32(100))}
				if err := p.send(f.Channel, FrameTypeAMQP, flow, nil); err != nil {
					return err
				}
			}
		case *Flow:
			if body.Handle == nil || body.LinkCredit == nil || *body.LinkCredit == 0 || p.delivered {
				continue
			}
			if a := p.peerHandles[*body.Handle]; a == nil || a.Role != RoleReceiver {
				continue
			}
			payload, err := AppendMessage(nil, p.toClient)
			if err != nil {
				return err
			}
			p.delivered = true
			tr := &Transfer{Handle: *body.Handle, DeliveryID: ptr(uint32(0)), DeliveryTag: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
				MessageFormat: ptr(uint32(0)), Settled: ptr(false)}
			if err := p.send(f.Channel, FrameTypeAMQP, tr, payload); err != nil {
				return err
			}
		case *Transfer:
			m, err := DecodeMessage(f.Payload)
			if err != nil {
				return err
			}
			p.received <- m
			if err := p.send(f.Channel, FrameTypeAMQP, &Disposition{Role: RoleReceiver, First: *body.DeliveryID, Settled: true, State: &Accepted{}}, nil); err != nil {
				return err
			}
			deliveryID++
		case *Disposition:
			p.settled <- body
			if !body.Settled {
				if err := p.send(f.Channel, FrameTypeAMQP, &Disposition{Role: RoleSender, First: body.First, Last: body.Last, Settled: true, State: body.State}, nil); err != nil {
					return err
				}
			}
		case *Detach:
			if err := p.send(f.Channel, FrameTypeAMQP, &Detach{Handle: body.Handle, Closed: true}, nil); err != nil {
				return err
			}
		case *End:
			if err := p.send(f.Channel, FrameTypeAMQP, &End{}, nil); err != nil {
				return err
			}
		case *Close:
			return p.send(0, FrameTypeAMQP, &Close{}, nil)
		default:
			return fmt.Errorf("unexpected frame %v", f)
		}
	}
}

func TestInteropWithGoAMQP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	lockToken := UUID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	enqueued := time.UnixMilli(1764349200123).UTC()
	toClient := &Message{
		Header:              &Header{Durable: true, Priority: 4, DeliveryCount: 0},
		DeliveryAnnotations: Map{{Key: Symbol("x-opt-lock-token"), Value: lockToken}},
		MessageAnnotations: Map{
			{Key: Symbol("x-opt-sequence-number"), Value: int64(42)},
			{Key: Symbol("x-opt-enqueued-time"), Value: enqueued},
		},
		Properties:            &Properties{MessageID: UUID{1}, CorrelationID: uint64(7), ContentType: "application/json", GroupSequence: ptr(uint32(3))},
		ApplicationProperties: Map{{Key: "DeadLetterReason", Value: "MaxDeliveryCountExceeded"}, {Key: "statusCode", Value: int32(200)}},
	}
	toClient.SetData([]byte(`{"userId":"u1"}`))

	peer := &scriptedPeer{
		toClient: toClient, received: make(chan *Message, 4), settled: make(chan *Disposition, 4),
		attaches: make(chan *Attach, 8), openFromCli: make(chan *Open, 1), peerHandles: map[uint32]*Attach{},
	}
	peerDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peerDone <- err
			return
		}
		defer c.Close()
		peer.conn, peer.fr = c, NewFrameReader(c, 65536)
		peerDone <- peer.run()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	client, err := goamqp.NewConn(ctx, nc, &goamqp.ConnOptions{
		SASLType: goamqp.SASLTypeAnonymous(), HostName: "127.0.0.1:5672", MaxFrameSize: 65536, IdleTimeout: time.Minute,
		Properties: map[string]any{"product": "MSGolangClient"},
	})
	require.NoError(t, err)
	defer client.Close()

	open := <-peer.openFromCli
	assert.Equal(t, "127.0.0.1:5672", open.Hostname)
	assert.Equal(t, uint32(65536), open.MaxFrameSize)
	assert.Equal(t, uint32(30000), open.IdleTimeout, "go-amqp sends half its idle timeout")
	product, _ := open.Properties.Get(Symbol("product"))
	assert.Equal(t, "MSGolangClient", product)

	session, err := client.NewSession(ctx, nil)
	require.NoError(t, err)

	// Client → peer: a message through a sender link.
	sender, err := session.NewSender(ctx, "q1", &goamqp.SenderOptions{SettlementMode: goamqp.SenderSettleModeMixed.Ptr()})
	require.NoError(t, err)
	attach := <-peer.attaches
	assert.Equal(t, RoleSender, attach.Role)
	require.NotNil(t, attach.Target)
	assert.Equal(t, "q1", attach.Target.Address)

	out := goamqp.NewMessage([]byte("payload"))
	out.Properties = &goamqp.MessageProperties{MessageID: "m-1", CorrelationID: goamqp.UUID{9}}
	out.ApplicationProperties = map[string]any{"tenant": "contoso", "n": int32(5)}
	out.Annotations = goamqp.Annotations{"x-opt-scheduled-enqueue-time": enqueued}
	require.NoError(t, sender.Send(ctx, out, nil), "go-amqp accepts the peer's settled disposition")
	got := <-peer.received
	assert.Equal(t, "m-1", got.Properties.MessageID)
	assert.Equal(t, UUID{9}, got.Properties.CorrelationID)
	n, _ := got.ApplicationProperties.Get("n")
	assert.Equal(t, int32(5), n)
	sched, _ := got.MessageAnnotations.Get(Symbol("x-opt-scheduled-enqueue-time"))
	assert.Equal(t, enqueued, sched)
	data, err := got.Data()
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("payload")}, data)

	// Peer → client: a message through a peek-lock receiver link.
	receiver, err := session.NewReceiver(ctx, "q1", &goamqp.ReceiverOptions{SettlementMode: goamqp.ReceiverSettleModeSecond.Ptr(), Credit: 1})
	require.NoError(t, err)
	attach = <-peer.attaches
	assert.Equal(t, RoleReceiver, attach.Role)
	require.NotNil(t, attach.RcvSettleMode)
	assert.Equal(t, RcvSettleModeSecond, *attach.RcvSettleMode)

	msg, err := receiver.Receive(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, []byte(`{"userId":"u1"}`), msg.GetData())
	assert.Equal(t, int64(42), msg.Annotations["x-opt-sequence-number"])
	enq, ok := msg.Annotations["x-opt-enqueued-time"].(time.Time)
	require.True(t, ok, "x-opt-enqueued-time must arrive as a timestamp")
	assert.True(t, enqueued.Equal(enq))
	assert.Equal(t, goamqp.UUID(lockToken), msg.DeliveryAnnotations["x-opt-lock-token"])
	assert.Equal(t, goamqp.UUID{1}, msg.Properties.MessageID)
	assert.Equal(t, uint64(7), msg.Properties.CorrelationID)
	assert.Equal(t, "MaxDeliveryCountExceeded", msg.ApplicationProperties["DeadLetterReason"])
	assert.Equal(t, int32(200), msg.ApplicationProperties["statusCode"])
	require.NotNil(t, msg.Header)
	assert.Equal(t, uint32(0), msg.Header.DeliveryCount)
	assert.True(t, msg.Header.Durable)

	require.NoError(t, receiver.AcceptMessage(ctx, msg), "go-amqp accepts the peer's settled reply")
	disp := <-peer.settled
	assert.Equal(t, RoleReceiver, disp.Role)
	assert.False(t, disp.Settled, "mode second: the client waits for the broker to settle")
	assert.IsType(t, &Accepted{}, disp.State)

	require.NoError(t, sender.Close(ctx))
	require.NoError(t, receiver.Close(ctx))
	require.NoError(t, session.Close(ctx))
	require.NoError(t, client.Close())
	if err := <-peerDone; err != nil && !errors.Is(err, net.ErrClosed) {
		require.NoError(t, err)
	}
}
