package sbemu

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// This file handles links on which the peer sends: queue senders (each
// delivery is enqueued) and the request halves of $cbs and $management.

// Message annotations the emulator reads from or writes to messages.
const (
	annScheduledEnqueueTime = amqp.Symbol("x-opt-scheduled-enqueue-time")
	annSequenceNumber       = amqp.Symbol("x-opt-sequence-number")
	annEnqueueSequence      = amqp.Symbol("x-opt-enqueue-sequence-number")
	annEnqueuedTime         = amqp.Symbol("x-opt-enqueued-time")
	annLockedUntil          = amqp.Symbol("x-opt-locked-until")
	annMessageState         = amqp.Symbol("x-opt-message-state")
	annDeadLetterSource     = amqp.Symbol("x-opt-deadletter-source")
	annLockToken            = amqp.Symbol("x-opt-lock-token")
)

// maxCBSRequest bounds a $cbs request (a token fits in a few KiB); $cbs
// needs no authorization, so it must not be a way to pin memory.
const maxCBSRequest = 64 << 10

// storedMessage is what the broker keeps as a message's payload: the
// message as received, minus per-hop delivery annotations. Never modified
// after enqueue.
type storedMessage struct {
	msg *amqp.Message
}

// receiveTransfer adds one transfer frame to the delivery being assembled
// and handles the delivery when its last frame arrives.
func (l *link) receiveTransfer(t *amqp.Transfer, payload []byte) error {
	if l.inID == nil {
		if t.Aborted {
			return nil
		}
		id := uint32(0)
		if t.DeliveryID != nil {
			id = *t.DeliveryID
		}
		l.inID = &id
		l.inSettled = t.Settled != nil && *t.Settled
		l.inFormat = 0
		if t.MessageFormat != nil {
			l.inFormat = *t.MessageFormat
		}
		l.inBuf = l.inBuf[:0]
		l.inTooLarge = false
	} else if t.Settled != nil && *t.Settled {
		l.inSettled = true
	}
	if t.Aborted {
		l.inID, l.inBuf = nil, nil
		return nil
	}
	limit := l.s.c.s.opts.MaxMessageSize
	if l.kind == kindCBS {
		limit = min(limit, maxCBSRequest) // unauthenticated: keep it small
	}
	if len(l.inBuf)+len(payload) > limit {
		l.inTooLarge = true
		l.inBuf = l.inBuf[:0]
	} else if !l.inTooLarge {
		l.inBuf = append(l.inBuf, payload...)
	}
	if t.More {
		return nil
	}
	id, settled, format, data, tooLarge := *l.inID, l.inSettled, l.inFormat, l.inBuf, l.inTooLarge
	l.inID, l.inBuf = nil, nil

	l.deliveryCount++
	if l.credit > 0 {
		l.credit--
	}
	var state amqp.DeliveryState
	var answer func() // an RPC response, sent after the disposition
	switch {
	case tooLarge:
		state = &amqp.Rejected{Error: amqpErr(condMessageSizeExceed,
			fmt.Sprintf("the message is larger than the maximum of %d bytes", limit))}
	case l.kind == kindEntity:
		state = l.enqueue(format, data)
	default:
		state, answer = l.rpcRequest(data)
	}
	if !settled {
		if err := l.s.send(&amqp.Disposition{Role: amqp.RoleReceiver, First: id, Settled: true, State: state}); err != nil {
			return err
		}
	}
	if answer != nil {
		answer()
	}
	if l.credit <= senderCredit/2 && !l.stopped {
		l.credit = senderCredit
		return l.s.send(l.linkFlow(false))
	}
	return nil
}

// enqueue decodes a message (or a batch) and hands it to the broker.
func (l *link) enqueue(format uint32, data []byte) amqp.DeliveryState {
	msg, err := amqp.DecodeMessage(data)
	if err != nil {
		return &amqp.Rejected{Error: amqpErr(condDecode, "the message could not be decoded")}
	}
	msgs := []*amqp.Message{msg}
	if format == amqp.BatchMessageFormat {
		if msgs, err = amqp.SplitBatch(msg); err != nil {
			return &amqp.Rejected{Error: amqpErr(condDecode, "the batch could not be decoded")}
		}
	}
	bms := make([]broker.Message, len(msgs))
	for i, m := range msgs {
		bms[i] = toBrokerMessage(m)
	}
	if _, err := l.queue.Send(bms); err != nil {
		l.log().Warn("enqueue_failed", slog.String("error", err.Error()))
		return &amqp.Rejected{Error: amqpErr(condInternal, "the message could not be enqueued")}
	}
	l.s.c.s.poke()
	return &amqp.Accepted{}
}

// toBrokerMessage wraps a received message for the broker.
func toBrokerMessage(m *amqp.Message) broker.Message {
	m.DeliveryAnnotations = nil
	bm := broker.Message{MessageID: messageIDString(m), Payload: &storedMessage{msg: m}}
	if m.Header != nil && m.Header.TTL > 0 {
		bm.TimeToLive = time.Duration(m.Header.TTL) * time.Millisecond
	}
	if v, ok := m.MessageAnnotations.Get(annScheduledEnqueueTime); ok {
		if t, ok := v.(time.Time); ok {
			bm.ScheduledEnqueueTime = t
		}
	}
	bm.Size = len(m.RawBody)
	return bm
}

// messageIDString is the string form of a message-id (for de-duplication).
func messageIDString(m *amqp.Message) string {
	if m.Properties == nil {
		return ""
	}
	return idString(m.Properties.MessageID)
}

// idString is the string form of a message-id or correlation-id.
func idString(id any) string {
	switch id := id.(type) {
	case string:
		return id
	case uint64:
		return strconv.FormatUint(id, 10)
	case amqp.UUID:
		return id.String()
	case []byte:
		return hex.EncodeToString(id)
	}
	return ""
}
