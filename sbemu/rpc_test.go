package sbemu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// rpcFrameOrder sends one unsettled request (delivery id) on the request
// link reqH and reads frames until the response transfer arrives. It
// returns whether the disposition settling the request came before that
// response, and the response.
func (r *rawConn) rpcFrameOrder(reqH, id uint32, req *amqp.Message) (settledFirst bool, resp *amqp.Message) {
	r.t.Helper()
	payload, err := amqp.AppendMessage(nil, req)
	require.NoError(r.t, err)
	r.send(0, &amqp.Transfer{Handle: reqH, DeliveryID: &id, DeliveryTag: []byte{byte(id)}}, payload...)
	for {
		f := r.next()
		switch b := f.Body.(type) {
		case *amqp.Disposition:
			if b.Role == amqp.RoleReceiver && b.First == id {
				require.True(r.t, b.Settled, "the request is settled")
				assert.IsType(r.t, &amqp.Accepted{}, b.State)
				settledFirst = true
			}
		case *amqp.Transfer:
			m, err := amqp.DecodeMessage(f.Payload)
			require.NoError(r.t, err)
			return settledFirst, m
		}
	}
}

// TestRPCReplyAfterDisposition: on $cbs and $management the disposition
// that settles a request goes out before the response. Microsoft's Python
// SDK (uamqp's management client) waits for the settlement and crashes on
// a response that overtakes it; Go and Node accept either order, so only
// this frame-level check (and the Python suite) catches a regression.
func TestRPCReplyAfterDisposition(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)

	t.Run("cbs", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.open()
		r.begin(0)
		r.send(0, &amqp.Attach{Name: "cbs-req", Handle: 0, Role: amqp.RoleSender, Target: &amqp.Target{Address: addrCBS}})
		r.send(0, &amqp.Attach{Name: "cbs-resp", Handle: 1, Role: amqp.RoleReceiver,
			Source: &amqp.Source{Address: addrCBS}, Target: &amqp.Target{Address: "cbs-resp"}})
		r.credit(1, 0, 10, false, false)
		audience := "sb://127.0.0.1/" + DefaultQueueName
		for id, token := range []string{
			signSAS(audience, srv.opts.KeyName, srv.opts.Key, time.Now().Add(time.Hour)), // accepted
			signSAS(audience, srv.opts.KeyName, "wrong", time.Now().Add(time.Hour)),      // refused: still settled first
		} {
			req := &amqp.Message{
				Properties: &amqp.Properties{MessageID: "put-" + string(rune('a'+id)), ReplyTo: "cbs-resp"},
				ApplicationProperties: amqp.Map{
					{Key: "operation", Value: "put-token"}, {Key: "type", Value: tokenTypeSAS}, {Key: "name", Value: audience},
				},
			}
			require.NoError(t, req.SetValue(token))
			settledFirst, resp := r.rpcFrameOrder(0, uint32(id), req)
			assert.True(t, settledFirst, "put-token %d: the response overtook the disposition", id)
			assert.Equal(t, req.Properties.MessageID, resp.Properties.CorrelationID)
		}
	})

	t.Run("management", func(t *testing.T) {
		r := authedRaw(t, srv, defaultOpen(), defaultBegin()) // delivery 0 was the put-token
		mgmt := "amqps://127.0.0.1/" + DefaultQueueName + "/$management"
		r.send(0, &amqp.Attach{Name: "mreq", Handle: 10, Role: amqp.RoleSender, Target: &amqp.Target{Address: mgmt}})
		r.send(0, &amqp.Attach{Name: "mresp", Handle: 11, Role: amqp.RoleReceiver,
			Source: &amqp.Source{Address: mgmt}, Target: &amqp.Target{Address: "mresp"}})
		r.credit(11, 0, 10, false, false)
		peek := func(id string) *amqp.Message {
			m := &amqp.Message{
				Properties:            &amqp.Properties{MessageID: id, ReplyTo: "mresp"},
				ApplicationProperties: amqp.Map{{Key: "operation", Value: opPeek}},
			}
			require.NoError(t, m.SetValue(amqp.Map{{Key: "from-sequence-number", Value: int64(1)}, {Key: "message-count", Value: int32(1)}}))
			return m
		}
		next := uint32(1)
		for _, tc := range []struct {
			name   string
			inject func()
			status int32
		}{
			{"answered at once", func() {}, statusNoContent},
			{"answered late", func() { srv.DelayManagement(1, 50*time.Millisecond) }, statusNoContent},
			{"failed", func() { srv.FailManagement(1, 503, "com.microsoft:server-busy") }, 503},
		} {
			tc.inject()
			req := peek(tc.name)
			settledFirst, resp := r.rpcFrameOrder(10, next, req)
			next++
			assert.True(t, settledFirst, "%s: the response overtook the disposition", tc.name)
			assert.Equal(t, tc.name, resp.Properties.CorrelationID)
			status, _ := resp.ApplicationProperties.Get("statusCode")
			assert.Equal(t, tc.status, status, tc.name)
		}
	})
}
