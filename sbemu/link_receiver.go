package sbemu

import (
	"encoding/binary"
	"errors"
	"log/slog"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// This file handles links on which the peer receives: queue receivers (fed
// by a pump goroutine per link) and the reply halves of $cbs and $management.

// delivery is a locked message sent on a link and not yet settled by the
// peer. link is the receive link it went out on: a disposition settles it
// only while that link is attached (link.abandonDeliveries).
type delivery struct {
	link  *link
	queue *broker.Queue
	token broker.LockToken
}

// pump delivers messages while the link has credit, waiting on the queue
// (or a flow) otherwise. It exits when the link or the connection ends.
func (l *link) pump() {
	c := l.s.c
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if l.stopped {
			c.mu.Unlock()
			return
		}
		changed, err := l.deliverAvailable()
		// Drain ends when the queue runs dry or the credit is used up.
		if err == nil && l.drain && (changed != nil || l.credit == 0) {
			err = l.finishDrain()
		}
		c.mu.Unlock()
		if err != nil {
			if !errors.Is(err, errWriterStopped) {
				l.log().Warn("delivery_failed", slog.String("error", err.Error()))
			}
			return
		}
		select {
		case <-changed: // nil (blocks forever) unless the queue ran dry
		case <-l.wake:
		case <-l.done:
			return
		case <-c.done:
			return
		}
	}
}

// deliverAvailable sends messages while credit and the session window
// allow. It returns the queue's Changed channel when it stopped because the
// queue had nothing available, nil when it stopped for lack of credit.
func (l *link) deliverAvailable() (<-chan struct{}, error) {
	for l.credit > 0 && l.s.outgoingRoom() > 0 {
		changed := l.queue.Changed()
		rec, ok := l.queue.Receive(l.mode)
		if !ok {
			return changed, nil
		}
		if l.mode == broker.PeekLock {
			l.s.c.s.poke() // a new lock deadline
		}
		if err := l.sendRecord(rec); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// sendRecord encodes a received record and transfers it.
func (l *link) sendRecord(rec broker.Record) error {
	peekLock := l.mode == broker.PeekLock
	data, err := encodeRecord(rec, recordOptions{locked: peekLock})
	if err != nil {
		return err
	}
	var tag []byte
	if peekLock {
		tag = dotnetGUIDBytes(rec.LockToken)
	} else {
		l.nextTag++
		tag = binary.BigEndian.AppendUint64(nil, l.nextTag)
	}
	id := l.s.nextDeliveryID
	l.s.nextDeliveryID++
	if peekLock {
		l.s.unsettled[id] = &delivery{link: l, queue: l.queue, token: rec.LockToken}
		l.s.c.s.locks.add(l.queue, rec.LockToken)
	}
	l.credit--
	l.deliveryCount++
	return l.transferOut(id, tag, !peekLock, data)
}

// transferOut sends one delivery, split into frames that fit the peer's
// max-frame-size.
func (l *link) transferOut(id uint32, tag []byte, settled bool, data []byte) error {
	s := l.s
	// Room for the frame header and the transfer performative.
	const overhead = 128
	chunk := int(s.c.peerMaxFrame) - overhead - len(tag)
	format := uint32(0)
	first := true
	for first || len(data) > 0 {
		n := min(len(data), chunk)
		t := &amqp.Transfer{Handle: l.localHandle, More: n < len(data)}
		if first {
			did, st, mf := id, settled, format
			t.DeliveryID, t.DeliveryTag, t.MessageFormat, t.Settled = &did, tag, &mf, &st
		}
		if err := s.c.sendFrame(amqp.Frame{Type: amqp.FrameTypeAMQP, Channel: s.localCh, Body: t, Payload: data[:n]}); err != nil {
			return err
		}
		s.nextOutgoingID++
		data = data[n:]
		first = false
	}
	return nil
}

// dotnetGUIDBytes lays out an RFC 4122 lock token the way .NET serializes a
// GUID (the delivery-tag form): bytes 0–3 reversed, 4–5 and 6–7 swapped.
func dotnetGUIDBytes(u broker.LockToken) []byte {
	return []byte{u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]}
}

// recordOptions say which delivery-specific annotations encodeRecord adds.
type recordOptions struct {
	locked         bool // x-opt-locked-until
	lockAnnotation bool // delivery annotation x-opt-lock-token (receive-by-sequence-number)
}

// encodeRecord builds the wire form of a stored message as delivered or
// peeked: the sender's sections with a fresh header delivery-count, the
// broker's annotations and the broker's property overlays.
func encodeRecord(rec broker.Record, o recordOptions) ([]byte, error) {
	sm, ok := rec.Payload.(*storedMessage)
	if !ok {
		return nil, errors.New("sbemu: stored message of unexpected type")
	}
	src := sm.msg
	m := amqp.Message{Properties: src.Properties, RawBody: src.RawBody}
	h := amqp.Header{Priority: 4}
	if src.Header != nil {
		h = *src.Header
	}
	h.DeliveryCount = rec.DeliveryCount
	m.Header = &h

	ann := make(amqp.Map, 0, len(src.MessageAnnotations)+7)
	for _, p := range src.MessageAnnotations {
		switch p.Key {
		case annSequenceNumber, annEnqueueSequence, annEnqueuedTime, annLockedUntil,
			annMessageState, annDeadLetterSource, annLockToken:
			continue
		}
		ann = append(ann, p)
	}
	ann = append(ann,
		amqp.Pair{Key: annSequenceNumber, Value: rec.SequenceNumber},
		amqp.Pair{Key: annEnqueueSequence, Value: rec.SequenceNumber},
		amqp.Pair{Key: annEnqueuedTime, Value: rec.EnqueuedTime},
		amqp.Pair{Key: annMessageState, Value: int64(rec.State)},
	)
	if o.locked && !rec.LockedUntil.IsZero() {
		ann = append(ann, amqp.Pair{Key: annLockedUntil, Value: rec.LockedUntil})
	}
	if rec.DeadLetterSource != "" {
		ann = append(ann, amqp.Pair{Key: annDeadLetterSource, Value: rec.DeadLetterSource})
	}
	if !rec.ScheduledEnqueueTime.IsZero() {
		ann.Set(annScheduledEnqueueTime, rec.ScheduledEnqueueTime)
	}
	m.MessageAnnotations = ann

	if len(rec.Properties) > 0 {
		props := make(amqp.Map, len(src.ApplicationProperties), len(src.ApplicationProperties)+len(rec.Properties))
		copy(props, src.ApplicationProperties)
		for _, p := range rec.Properties {
			props.Set(p.Key, p.Value)
		}
		m.ApplicationProperties = props
	} else {
		m.ApplicationProperties = src.ApplicationProperties
	}
	if o.lockAnnotation {
		m.DeliveryAnnotations = amqp.Map{{Key: annLockToken, Value: amqp.UUID(rec.LockToken)}}
	}
	return amqp.AppendMessage(nil, &m)
}

// settleDelivery applies the peer's outcome for one of our deliveries and
// returns the state to answer with: accepted, or rejected with
// message-lock-lost.
func settleDelivery(s *Server, d *delivery, state amqp.DeliveryState) amqp.DeliveryState {
	if d == nil {
		// Unknown here: never sent, already settled, or sent on a link that
		// has since ended. Service Bus cannot settle a delivery on a link
		// other than the one it arrived on (azure-sdk-for-net
		// TROUBLESHOOTING.md, "Message or session lock is lost before lock
		// expiration time"); the message itself is left as it is.
		return lockLostState()
	}
	var err error
	q, tok := d.queue, d.token
	switch st := state.(type) {
	case *amqp.Accepted:
		err = q.Complete(tok)
	case *amqp.Released, nil:
		// No outcome: keep the message (released), never lose it.
		err = q.Release(tok)
	case *amqp.Modified:
		props := annotationProperties(st.MessageAnnotations)
		if st.UndeliverableHere {
			err = q.Defer(tok, props)
		} else {
			err = q.Abandon(tok, props)
		}
	case *amqp.Rejected:
		reason, desc, props := deadLetterInfo(st.Error)
		err = q.DeadLetter(tok, reason, desc, props)
	default:
		return &amqp.Rejected{Error: amqpErr(condNotImplemented, "unsupported outcome")}
	}
	s.poke()
	s.locks.remove(q, tok)
	if err != nil {
		if errors.Is(err, broker.ErrLockLost) {
			return lockLostState()
		}
		return &amqp.Rejected{Error: amqpErr(condInternal, "settlement failed")}
	}
	return &amqp.Accepted{}
}

func lockLostState() *amqp.Rejected {
	return &amqp.Rejected{Error: amqpErr(condLockLost,
		"the lock supplied is invalid: it has expired, or the message was already settled or removed")}
}

// annotationProperties turns a modified outcome's message-annotations
// (properties to modify) into broker properties.
func annotationProperties(m amqp.Map) []broker.Property {
	var out []broker.Property
	for _, p := range m {
		var key string
		switch k := p.Key.(type) {
		case string:
			key = k
		case amqp.Symbol:
			key = string(k)
		default:
			continue
		}
		out = append(out, broker.Property{Key: key, Value: p.Value})
	}
	return out
}

// deadLetterInfo splits a rejected outcome's error info into the reason,
// the description and the other properties.
func deadLetterInfo(e *amqp.Error) (reason, desc string, props []broker.Property) {
	if e == nil {
		return "", "", nil
	}
	for _, p := range annotationProperties(e.Info) {
		switch p.Key {
		case "DeadLetterReason":
			reason, _ = p.Value.(string)
		case "DeadLetterErrorDescription":
			desc, _ = p.Value.(string)
		default:
			props = append(props, p)
		}
	}
	if reason == "" && e.Condition != condDeadLetter {
		reason = string(e.Condition)
	}
	if desc == "" {
		desc = e.Description
	}
	return reason, desc, props
}

// sendReply sends an RPC response on a reply link, or queues it until the
// peer gives credit.
func (l *link) sendReply(m *amqp.Message) error {
	if len(l.pending) >= maxPendingReplies {
		return errTooManyPending
	}
	l.pending = append(l.pending, m)
	return l.flushReplies()
}

// maxPendingReplies bounds the RPC responses kept for a reply link whose
// peer gives no credit.
const maxPendingReplies = 1024

var errTooManyPending = errors.New("too many responses waiting for credit; response dropped")

// flushReplies sends queued RPC responses while there is credit.
func (l *link) flushReplies() error {
	for len(l.pending) > 0 && l.credit > 0 && !l.stopped {
		m := l.pending[0]
		l.pending = l.pending[1:]
		data, err := amqp.AppendMessage(nil, m)
		if err != nil {
			return err
		}
		l.nextTag++
		tag := binary.BigEndian.AppendUint64(nil, l.nextTag)
		id := l.s.nextDeliveryID
		l.s.nextDeliveryID++
		l.credit--
		l.deliveryCount++
		if err := l.transferOut(id, tag, true, data); err != nil {
			return err
		}
	}
	return nil
}
