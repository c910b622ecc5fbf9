package sbemu

import (
	"log/slog"
	"strings"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// This file carries the request/response plumbing shared by $cbs and
// $management: a request arrives on a peer sender link, is settled, and
// its response goes out on the reply link the same peer attached (source =
// the node address) in the same session. Reply-to is used only to choose
// between several such links, never parsed.

// rpcResponse is an answer before it is turned into a message.
type rpcResponse struct {
	status    int32
	desc      string
	condition amqp.Symbol // errors only
	body      amqp.Map    // nil or non-empty
}

// rpcRequest handles a complete request delivery. It returns the state
// that settles the request and the function that answers it. The caller
// sends the disposition first and calls answer after it: Microsoft's
// Python SDK (uamqp's AMQP management client) waits for the request's
// settlement before it takes a response, and crashes on a response that
// overtakes it. Service Bus answers in that order (uamqp works against
// it), and Go and Node accept either order, so this one suits every SDK.
func (l *link) rpcRequest(data []byte) (state amqp.DeliveryState, answer func()) {
	req, err := amqp.DecodeMessage(data)
	if err != nil {
		return &amqp.Rejected{Error: amqpErr(condDecode, "the request could not be decoded")}, nil
	}
	if l.kind == kindCBS {
		resp := l.s.c.handleCBS(req)
		return &amqp.Accepted{}, func() { l.respond(req, resp) }
	}
	if d := l.s.c.s.faults.takeDelay(); d > 0 {
		return &amqp.Accepted{}, func() { l.respondLater(req, d) }
	}
	// Carried out now, while the request is being settled: the broker
	// state the response describes is the state after the operation.
	resp := l.handleManagement(req)
	return &amqp.Accepted{}, func() { l.respond(req, resp) }
}

// respondLater answers a management request after d, off the read loop.
func (l *link) respondLater(req *amqp.Message, d time.Duration) {
	c := l.s.c
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if l.stopped {
			return
		}
		l.respond(req, l.handleManagement(req))
	}()
}

// respond sends resp for req on the matching reply link.
func (l *link) respond(req *amqp.Message, resp rpcResponse) {
	m := &amqp.Message{Properties: &amqp.Properties{}}
	if req.Properties != nil {
		m.Properties.CorrelationID = req.Properties.MessageID
		m.Properties.To = req.Properties.ReplyTo
	}
	statusKey, descKey := "statusCode", "statusDescription"
	if l.kind == kindCBS {
		statusKey, descKey = "status-code", "status-description"
	}
	m.ApplicationProperties = amqp.Map{
		{Key: statusKey, Value: resp.status},
		{Key: descKey, Value: resp.desc},
	}
	if resp.condition != "" {
		m.ApplicationProperties = append(m.ApplicationProperties, amqp.Pair{Key: "errorCondition", Value: resp.condition})
	}
	if len(resp.body) > 0 {
		if err := m.SetValue(resp.body); err != nil {
			l.log().Error("rpc_encode_failed", slog.String("error", err.Error()))
			return
		}
	}
	reply := l.replyLink(req)
	if reply == nil {
		l.log().Warn("rpc_no_reply_link")
		return
	}
	if err := reply.sendReply(m); err != nil {
		l.log().Warn("rpc_reply_failed", slog.String("error", err.Error()))
	}
}

// replyLink finds the peer receiver in this session whose source is this
// link's node address; with several, the one whose target or name matches
// the request's reply-to.
func (l *link) replyLink(req *amqp.Message) *link {
	replyTo := ""
	if req.Properties != nil {
		replyTo = req.Properties.ReplyTo
	}
	var found *link
	for _, o := range l.s.links {
		if o.role != amqp.RoleReceiver || o.stopped || !strings.EqualFold(o.path, l.path) {
			continue
		}
		if replyTo != "" && (o.target == replyTo || o.name == replyTo) {
			return o
		}
		if found == nil || o.remoteHandle < found.remoteHandle {
			found = o
		}
	}
	return found
}

// stringProp reads a string application property (string or symbol).
func stringProp(m amqp.Map, key string) string {
	v, _ := m.Get(key)
	switch v := v.(type) {
	case string:
		return v
	case amqp.Symbol:
		return string(v)
	}
	return ""
}
