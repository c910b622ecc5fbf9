package sbemu

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rowURIAddresses drives go-amqp by hand the way Microsoft's Python SDK
// (uamqp) talks to Service Bus: a CBS put-token whose name is
// sb://<host>/<queue>, then links whose addresses are full URIs,
// amqps://<host>/<queue> (sender, receiver) and
// amqps://<host>/<queue>/$management (a peek). Against a real namespace
// this confirms the service takes those forms; against the emulator it
// holds the emulator to it. The RPC replies must also come after the
// requests' settlement for uamqp; go-amqp cannot observe that order, so
// TestRPCReplyAfterDisposition checks it at the frame level.
func rowURIAddresses(t *testing.T, e *confEnv) {
	ctx := testCtx(t, 30*time.Second)
	p := connParts(e.connStr)
	endpoint, err := url.Parse(p["Endpoint"])
	require.NoError(t, err)
	host := endpoint.Hostname()
	dial := "amqps://" + net.JoinHostPort(host, "5671")
	if strings.EqualFold(p["UseDevelopmentEmulator"], "true") {
		dial = "amqp://" + endpoint.Host
	}
	conn, err := goamqp.Dial(ctx, dial, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), HostName: host})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	sess, err := conn.NewSession(ctx, nil)
	require.NoError(t, err)

	// rpc sends one request on node and returns the response's
	// application properties and value.
	rpc := func(node, statusKey string, props map[string]any, value any) (map[string]any, any) {
		t.Helper()
		replyTo := "uri-row-reply-" + strings.ReplaceAll(node, "/", "-")
		rcv, err := sess.NewReceiver(ctx, node, &goamqp.ReceiverOptions{TargetAddress: replyTo, Credit: 10})
		require.NoError(t, err)
		defer rcv.Close(ctx)
		snd, err := sess.NewSender(ctx, node, nil)
		require.NoError(t, err)
		defer snd.Close(ctx)
		msgID := "uri-row-" + node
		req := &goamqp.Message{
			Properties:            &goamqp.MessageProperties{MessageID: msgID, ReplyTo: &replyTo},
			ApplicationProperties: props,
			Value:                 value,
		}
		require.NoError(t, snd.Send(ctx, req, nil))
		resp, err := rcv.Receive(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, rcv.AcceptMessage(ctx, resp))
		assert.Equal(t, msgID, resp.Properties.CorrelationID)
		assert.EqualValues(t, 200, resp.ApplicationProperties[statusKey], "%s: %v", node, resp.ApplicationProperties)
		return resp.ApplicationProperties, resp.Value
	}

	audience := "sb://" + host + "/" + e.queue
	token := signSAS(audience, p["SharedAccessKeyName"], p["SharedAccessKey"], time.Now().Add(time.Hour))
	rpc("$cbs", "status-code", map[string]any{"operation": "put-token", "type": tokenTypeSAS, "name": audience}, token)

	entityURI := "amqps://" + host + "/" + e.queue
	snd, err := sess.NewSender(ctx, entityURI, nil)
	require.NoError(t, err, "sender with address %s", entityURI)
	defer snd.Close(ctx)
	require.NoError(t, snd.Send(ctx, goamqp.NewMessage([]byte("via a URI address")), nil))

	_, v := rpc(entityURI+"/$management", "statusCode", map[string]any{"operation": opPeek},
		map[string]any{"from-sequence-number": int64(1), "message-count": int32(10)})
	body, ok := v.(map[string]any)
	require.True(t, ok, "peek answered with %T", v)
	msgs, _ := body["messages"].([]any)
	assert.Len(t, msgs, 1, "peek through %s/$management", entityURI)

	rcv, err := sess.NewReceiver(ctx, entityURI, &goamqp.ReceiverOptions{Credit: 1})
	require.NoError(t, err, "receiver with address %s", entityURI)
	defer rcv.Close(ctx)
	m, err := rcv.Receive(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "via a URI address", string(m.GetData()))
	require.NoError(t, rcv.AcceptMessage(ctx, m))
	if e.srv != nil {
		require.Eventually(t, func() bool {
			st, err := e.srv.QueueStats(e.queue)
			return err == nil && st == Stats{}
		}, 5*time.Second, 10*time.Millisecond, "the message was completed")
	}
}
