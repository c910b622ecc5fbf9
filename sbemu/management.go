package sbemu

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// Management operations (application property "operation").
const (
	opRenewLock         = "com.microsoft:renew-lock"
	opPeek              = "com.microsoft:peek-message"
	opSchedule          = "com.microsoft:schedule-message"
	opCancelScheduled   = "com.microsoft:cancel-scheduled-message"
	opReceiveBySeq      = "com.microsoft:receive-by-sequence-number"
	opUpdateDisposition = "com.microsoft:update-disposition"
	maxMgmtBatch        = 4096 // tokens, sequence numbers or messages per request
	maxPeekCount        = 4096
	statusOK            = 200
	statusNoContent     = 204
	statusBadRequest    = 400
	statusNotFound      = 404
	statusGone          = 410
	statusInternal      = 500
)

// handleManagement answers one $management request on l (whose queue is
// the entity in front of /$management).
func (l *link) handleManagement(req *amqp.Message) rpcResponse {
	if f, ok := l.s.c.s.faults.takeFailure(); ok {
		return rpcResponse{status: int32(f.status), desc: "injected failure", condition: amqp.Symbol(f.condition)}
	}
	op := stringProp(req.ApplicationProperties, "operation")
	var body amqp.Map
	if v, err := req.Value(); err == nil {
		body, _ = v.(amqp.Map)
	}
	q := l.queue
	var resp rpcResponse
	var err error
	switch op {
	case opRenewLock:
		resp, err = mgmtRenewLock(q, body)
	case opPeek:
		resp, err = mgmtPeek(q, body)
	case opSchedule:
		resp, err = mgmtSchedule(q, body, l.s.c.s.opts.MaxMessageSize)
	case opCancelScheduled:
		resp, err = mgmtCancel(q, body)
	case opReceiveBySeq:
		resp, err = mgmtReceiveBySeq(q, body, &l.s.c.s.locks)
	case opUpdateDisposition:
		resp, err = mgmtUpdateDisposition(q, body, &l.s.c.s.locks)
	default:
		return rpcResponse{status: statusBadRequest, desc: "unsupported operation " + strconv.Quote(op), condition: condMSNotImplemented}
	}
	l.s.c.s.poke()
	if err != nil {
		return errorResponse(err)
	}
	return resp
}

// argError is a bad request argument.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func argErr(format string, a ...any) error { return &argError{msg: fmt.Sprintf(format, a...)} }

func errorResponse(err error) rpcResponse {
	var ae *argError
	switch {
	case errors.As(err, &ae):
		return rpcResponse{status: statusBadRequest, desc: ae.msg, condition: condArgumentError}
	case errors.Is(err, broker.ErrLockLost):
		return rpcResponse{status: statusGone, desc: "the lock supplied is invalid: it has expired, or the message was already settled", condition: condLockLost}
	case errors.Is(err, broker.ErrMessageNotFound):
		return rpcResponse{status: statusNotFound, desc: "a requested message was not found in the expected state", condition: condMessageNotFound}
	case errors.Is(err, broker.ErrEntityNotFound):
		return rpcResponse{status: statusNotFound, desc: entityNotFound("(unknown)"), condition: condNotFound}
	case errors.Is(err, broker.ErrNotSupported):
		// Scheduling on a subscription or a dead-letter queue: messages are sent to a topic or queue.
		return rpcResponse{status: statusBadRequest, desc: "the operation is not supported on this entity", condition: condNotAllowed}
	}
	return rpcResponse{status: statusInternal, desc: "internal error", condition: condInternal}
}

// mgmtRenewLock renews by lock token alone: the link the message went out
// on need not be attached any more. Service Bus renews such a lock
// although the message cannot be settled on a new receive link
// (azure-sdk-for-net #37676; azure-sdk-for-python #31187); see LINKLOSS.md.
// associated-link-name, when sent, is not checked.
func mgmtRenewLock(q *broker.Queue, body amqp.Map) (rpcResponse, error) {
	tokens, err := uuidArray(body, "lock-tokens")
	if err != nil {
		return rpcResponse{}, err
	}
	exp := make([]any, len(tokens))
	for i, t := range tokens {
		until, err := q.RenewLock(broker.LockToken(t))
		if err != nil {
			return rpcResponse{}, err
		}
		exp[i] = until
	}
	return rpcResponse{status: statusOK, desc: "OK", body: amqp.Map{
		{Key: "expirations", Value: amqp.NewArray(amqp.TypeCodeTimestamp, exp...)},
	}}, nil
}

func mgmtPeek(q *broker.Queue, body amqp.Map) (rpcResponse, error) {
	from, ok := asInt64(get(body, "from-sequence-number"))
	if !ok {
		return rpcResponse{}, argErr("from-sequence-number missing or not a number")
	}
	count, ok := asInt64(get(body, "message-count"))
	if !ok || count <= 0 {
		return rpcResponse{}, argErr("message-count missing or not positive")
	}
	recs := q.Peek(from, int(min(count, maxPeekCount)))
	if len(recs) == 0 {
		return rpcResponse{status: statusNoContent, desc: "No messages"}, nil
	}
	list := make([]any, 0, len(recs))
	for _, r := range recs {
		data, err := encodeRecord(r, recordOptions{})
		if err != nil {
			return rpcResponse{}, err
		}
		list = append(list, amqp.Map{{Key: "message", Value: data}})
	}
	return rpcResponse{status: statusOK, desc: "OK", body: amqp.Map{{Key: "messages", Value: list}}}, nil
}

func mgmtSchedule(q *broker.Queue, body amqp.Map, maxSize int) (rpcResponse, error) {
	items, ok := get(body, "messages").([]any)
	if !ok || len(items) == 0 || len(items) > maxMgmtBatch {
		return rpcResponse{}, argErr("messages missing, empty or too long")
	}
	msgs := make([]broker.Message, 0, len(items))
	for i, it := range items {
		entry, ok := it.(amqp.Map)
		if !ok {
			return rpcResponse{}, argErr("messages[%d] is not a map", i)
		}
		data, ok := get(entry, "message").([]byte)
		if !ok {
			return rpcResponse{}, argErr("messages[%d].message is not binary", i)
		}
		if len(data) > maxSize {
			return rpcResponse{}, argErr("messages[%d] is larger than %d bytes", i, maxSize)
		}
		m, err := amqp.DecodeMessage(data)
		if err != nil {
			return rpcResponse{}, argErr("messages[%d] could not be decoded", i)
		}
		bm := toBrokerMessage(m)
		if bm.ScheduledEnqueueTime.IsZero() {
			return rpcResponse{}, argErr("messages[%d] has no x-opt-scheduled-enqueue-time", i)
		}
		msgs = append(msgs, bm)
	}
	seqs, err := q.Schedule(msgs)
	if err != nil {
		return rpcResponse{}, err
	}
	vals := make([]any, len(seqs))
	for i, s := range seqs {
		vals[i] = s
	}
	return rpcResponse{status: statusOK, desc: "OK", body: amqp.Map{
		{Key: "sequence-numbers", Value: amqp.NewArray(amqp.TypeCodeLong, vals...)},
	}}, nil
}

func mgmtCancel(q *broker.Queue, body amqp.Map) (rpcResponse, error) {
	seqs, err := longArray(body, "sequence-numbers")
	if err != nil {
		return rpcResponse{}, err
	}
	if err := q.CancelScheduled(seqs); err != nil {
		return rpcResponse{}, err
	}
	return rpcResponse{status: statusOK, desc: "OK"}, nil
}

func mgmtReceiveBySeq(q *broker.Queue, body amqp.Map, locks *lockRegistry) (rpcResponse, error) {
	seqs, err := longArray(body, "sequence-numbers")
	if err != nil {
		return rpcResponse{}, err
	}
	mode := broker.PeekLock
	if m, ok := asInt64(get(body, "receiver-settle-mode")); ok && m == 0 {
		mode = broker.ReceiveAndDelete
	}
	recs, err := q.ReceiveDeferred(seqs, mode)
	if err != nil {
		return rpcResponse{}, err
	}
	if len(recs) == 0 {
		return rpcResponse{status: statusNoContent, desc: "No messages"}, nil
	}
	list := make([]any, 0, len(recs))
	for _, r := range recs {
		locked := mode == broker.PeekLock
		data, err := encodeRecord(r, recordOptions{locked: locked, lockAnnotation: locked})
		if err != nil {
			return rpcResponse{}, err
		}
		entry := amqp.Map{{Key: "message", Value: data}}
		if locked {
			locks.add(q, r.LockToken)
			entry = append(entry, amqp.Pair{Key: "lock-token", Value: amqp.UUID(r.LockToken)})
		}
		list = append(list, entry)
	}
	return rpcResponse{status: statusOK, desc: "OK", body: amqp.Map{{Key: "messages", Value: list}}}, nil
}

// mgmtUpdateDisposition settles by lock token alone, whether the message
// came by receive-by-sequence-number or on a receive link that has since
// ended: the SDKs fall back to it for the latter and Service Bus accepts it
// while the lock holds (azure-sdk-for-net #37704, whose live test completes
// such a message; azure-sdk-for-js #8406); see LINKLOSS.md.
func mgmtUpdateDisposition(q *broker.Queue, body amqp.Map, locks *lockRegistry) (rpcResponse, error) {
	tokens, err := uuidArray(body, "lock-tokens")
	if err != nil {
		return rpcResponse{}, err
	}
	status := stringProp(body, "disposition-status")
	var props []broker.Property
	if pm, ok := get(body, "properties-to-modify").(amqp.Map); ok {
		props = annotationProperties(pm)
	}
	reason := stringProp(body, "deadletter-reason")
	desc := stringProp(body, "deadletter-description")
	for _, t := range tokens {
		tok := broker.LockToken(t)
		locks.remove(q, tok)
		switch status {
		case "completed":
			err = q.Complete(tok)
		case "abandoned":
			err = q.Abandon(tok, props)
		case "suspended":
			err = q.DeadLetter(tok, reason, desc, props)
		case "defered", "deferred":
			err = q.Defer(tok, props)
		default:
			return rpcResponse{}, argErr("unknown disposition-status %q", status)
		}
		if err != nil {
			return rpcResponse{}, err
		}
	}
	return rpcResponse{status: statusOK, desc: "OK"}, nil
}

// get reads a string-keyed map entry.
func get(m amqp.Map, key string) any {
	v, _ := m.Get(key)
	return v
}

// values returns the elements of an array or list entry.
func values(m amqp.Map, key string) ([]any, error) {
	switch v := get(m, key).(type) {
	case amqp.Array:
		return v.Values, nil
	case []any:
		return v, nil
	case nil:
		return nil, argErr("%s missing", key)
	}
	return nil, argErr("%s is not an array", key)
}

func uuidArray(m amqp.Map, key string) ([]amqp.UUID, error) {
	vals, err := values(m, key)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 || len(vals) > maxMgmtBatch {
		return nil, argErr("%s must hold 1 to %d entries", key, maxMgmtBatch)
	}
	out := make([]amqp.UUID, len(vals))
	for i, v := range vals {
		u, ok := v.(amqp.UUID)
		if !ok {
			return nil, argErr("%s[%d] is not a uuid", key, i)
		}
		out[i] = u
	}
	return out, nil
}

func longArray(m amqp.Map, key string) ([]int64, error) {
	vals, err := values(m, key)
	if err != nil {
		return nil, err
	}
	if len(vals) > maxMgmtBatch {
		return nil, argErr("%s holds more than %d entries", key, maxMgmtBatch)
	}
	out := make([]int64, len(vals))
	for i, v := range vals {
		n, ok := asInt64(v)
		if !ok {
			return nil, argErr("%s[%d] is not a number", key, i)
		}
		out[i] = n
	}
	return out, nil
}

// asInt64 reads any AMQP integer type.
func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
