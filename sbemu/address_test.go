package sbemu

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// Raw-protocol tests of the address forms of address.go: what the Python
// SDK (uamqp) sends is exercised here without Python, and the Go and Node
// forms stay covered next to it.

// addressForms are the ways the SDKs write the address of path: bare
// (Go, Node), rooted, and as a URI with any scheme, host and port (uamqp:
// amqps://host/..., CBS audiences: sb:// and amqp://).
func addressForms(path string) []string {
	return []string{
		path,
		"/" + path,
		"sb://127.0.0.1/" + path,
		"amqps://127.0.0.1/" + path,
		"amqps://somewhere.servicebus.windows.net:5671/" + path,
		"amqp://127.0.0.1:5672/" + path,
	}
}

// attachFrames sends an attach and returns the reply attach and the next
// frame (a flow for a granted peer sender, a detach for a refusal).
func (r *rawConn) attachFrames(a *amqp.Attach) (*amqp.Attach, amqp.Frame) {
	r.t.Helper()
	r.send(0, a)
	reply, _ := nextOf[*amqp.Attach](r)
	return reply, r.next()
}

// requireGranted fails unless an attach reply and the frame after it show
// an accepted link: the terminus echoed, no detach.
func requireGranted(t *testing.T, a *amqp.Attach, next amqp.Frame, addr string) {
	t.Helper()
	if d, ok := next.Body.(*amqp.Detach); ok {
		t.Fatalf("attach to %q refused: %v", addr, d.Error)
	}
	if a.Role == amqp.RoleReceiver {
		require.NotNil(t, a.Target, "attach to %q refused (null target)", addr)
		assert.Equal(t, addr, a.Target.Address, "the target is echoed as the peer wrote it")
	} else {
		require.NotNil(t, a.Source, "attach to %q refused (null source)", addr)
		assert.Equal(t, addr, a.Source.Address, "the source is echoed as the peer wrote it")
	}
}

// TestLinkAddressForms: after one put-token (audience in the Python form),
// senders, receivers, dead-letter receivers and $management links attach
// with every address form, and the messages reach the queue they name.
func TestLinkAddressForms(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin()) // put-token for sb://<addr>/license-fixed
	q := DefaultQueueName
	h := uint32(10)
	deliveryID := uint32(1) // the put-token request was delivery 0
	for i, addr := range addressForms(q) {
		// A sender: its message is accepted and lands in the queue.
		a, next := r.attachFrames(&amqp.Attach{Name: fmt.Sprintf("snd-%d", i), Handle: h, Role: amqp.RoleSender,
			Source: &amqp.Source{Address: "me"}, Target: &amqp.Target{Address: addr}})
		requireGranted(t, a, next, addr)
		m := &amqp.Message{Properties: &amqp.Properties{MessageID: fmt.Sprintf("via-%d", i)}}
		m.SetData([]byte(addr))
		payload, err := amqp.AppendMessage(nil, m)
		require.NoError(t, err)
		r.send(0, &amqp.Transfer{Handle: h, DeliveryID: &deliveryID, DeliveryTag: []byte{byte(i)}}, payload...)
		d, _ := nextOf[*amqp.Disposition](r)
		assert.Equal(t, deliveryID, d.First)
		assert.IsType(t, &amqp.Accepted{}, d.State, "send via %q", addr)
		deliveryID++
		h++

		// A receiver and a dead-letter receiver.
		for _, src := range []string{addr, addr + "/$DeadLetterQueue"} {
			// No credit is given, so nothing follows a granted attach; a
			// refused one has a null source (then a detach).
			r.send(0, &amqp.Attach{Name: fmt.Sprintf("rcv-%d-%s", i, src), Handle: h, Role: amqp.RoleReceiver,
				RcvSettleMode: u8(amqp.RcvSettleModeSecond), Source: &amqp.Source{Address: src}, Target: &amqp.Target{Address: "me"}})
			a, _ := nextOf[*amqp.Attach](r)
			require.NotNil(t, a.Source, "attach to %q refused (null source)", src)
			assert.Equal(t, src, a.Source.Address)
			h++
		}
	}
	st, err := srv.QueueStats(q)
	require.NoError(t, err)
	assert.Equal(t, len(addressForms(q)), st.Active+st.Locked, "every form's message reached %s", q)

	// $management in every form answers a peek on the queue.
	for i, addr := range addressForms(q + "/$management") {
		reqH, respH := h, h+1
		h += 2
		a, next := r.attachFrames(&amqp.Attach{Name: fmt.Sprintf("mreq-%d", i), Handle: reqH, Role: amqp.RoleSender,
			Target: &amqp.Target{Address: addr}})
		requireGranted(t, a, next, addr)
		r.send(0, &amqp.Attach{Name: fmt.Sprintf("mresp-%d", i), Handle: respH, Role: amqp.RoleReceiver,
			Source: &amqp.Source{Address: addr}, Target: &amqp.Target{Address: fmt.Sprintf("mresp-%d", i)}})
		nextOf[*amqp.Attach](r)
		r.credit(respH, 0, 10, false, false)
		req := &amqp.Message{
			Properties:            &amqp.Properties{MessageID: fmt.Sprintf("peek-%d", i), ReplyTo: fmt.Sprintf("mresp-%d", i)},
			ApplicationProperties: amqp.Map{{Key: "operation", Value: opPeek}},
		}
		require.NoError(t, req.SetValue(amqp.Map{{Key: "from-sequence-number", Value: int64(0)}, {Key: "message-count", Value: int32(100)}}))
		payload, err := amqp.AppendMessage(nil, req)
		require.NoError(t, err)
		r.send(0, &amqp.Transfer{Handle: reqH, DeliveryID: &deliveryID, DeliveryTag: []byte{byte(i)}}, payload...)
		deliveryID++
		_, f := nextOf[*amqp.Transfer](r)
		resp, err := amqp.DecodeMessage(f.Payload)
		require.NoError(t, err)
		status, _ := resp.ApplicationProperties.Get("statusCode")
		assert.Equal(t, int32(statusOK), status, "peek via %q", addr)
		v, err := resp.Value()
		require.NoError(t, err)
		list, _ := get(v.(amqp.Map), "messages").([]any)
		assert.Len(t, list, len(addressForms(q)), "peek via %q sees the queue's messages", addr)
	}
}

// TestCBSAudienceForms: a put-token whose name is any form of an entity's
// address grants that entity (so a link with any form attaches) and no
// other entity.
func TestCBSAudienceForms(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.UserConfig.Namespaces[0].Queues = append(cfg.UserConfig.Namespaces[0].Queues, Queue{Name: "other"})
	srv := hostileServer(t, &Options{Config: cfg})
	for _, audience := range addressForms(DefaultQueueName) {
		t.Run(audience, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t, srv)
			r.open()
			r.begin(0)
			r.cbsAuth(srv, audience)
			a, next := r.attachFrames(&amqp.Attach{Name: "granted", Handle: 1, Role: amqp.RoleSender,
				Target: &amqp.Target{Address: "amqps://127.0.0.1/" + DefaultQueueName}})
			requireGranted(t, a, next, "amqps://127.0.0.1/"+DefaultQueueName)

			_, next = r.attachFrames(&amqp.Attach{Name: "not-granted", Handle: 2, Role: amqp.RoleSender,
				Target: &amqp.Target{Address: "amqps://127.0.0.1/other"}})
			d, ok := next.Body.(*amqp.Detach)
			require.True(t, ok, "a token for %q must not cover queue other; got %v", audience, next.Body)
			require.NotNil(t, d.Error)
			assert.Equal(t, condUnauthorized, d.Error.Condition)
		})
	}
}

// TestDetachLinksMatchesAnyAddressForm: the fault hook finds a link
// attached with a URI address by its entity name, and the reverse.
func TestDetachLinksMatchesAnyAddressForm(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, nil)
	r := authedRaw(t, srv, defaultOpen(), defaultBegin())
	a, next := r.attachFrames(&amqp.Attach{Name: "uri", Handle: 1, Role: amqp.RoleSender,
		Target: &amqp.Target{Address: "amqps://127.0.0.1/" + DefaultQueueName}})
	requireGranted(t, a, next, "amqps://127.0.0.1/"+DefaultQueueName)
	require.Equal(t, 1, srv.DetachLinks(DefaultQueueName, "amqp:link:detach-forced", "test"))
	d, _ := nextOf[*amqp.Detach](r)
	require.NotNil(t, d.Error)
	assert.Equal(t, amqp.Symbol("amqp:link:detach-forced"), d.Error.Condition)
	r.send(0, &amqp.Detach{Handle: 1, Closed: true})

	a, next = r.attachFrames(&amqp.Attach{Name: "bare", Handle: 2, Role: amqp.RoleSender,
		Target: &amqp.Target{Address: DefaultQueueName}})
	requireGranted(t, a, next, DefaultQueueName)
	require.Eventually(t, func() bool {
		return srv.DetachLinks("sb://elsewhere/"+DefaultQueueName, "amqp:link:detach-forced", "test") == 1
	}, 5*time.Second, 10*time.Millisecond)
}
