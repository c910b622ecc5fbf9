package sbemu

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Raw-protocol tests of link loss (LINKLOSS.md) for what the SDKs never put
// on the wire: a disposition naming a delivery of a link that has ended, on
// its own session and on another connection.

// tokenFromTag undoes the .NET GUID order of a delivery tag.
func tokenFromTag(tag []byte) amqp.UUID {
	var u amqp.UUID
	copy(u[:], []byte{tag[3], tag[2], tag[1], tag[0], tag[5], tag[4], tag[7], tag[6]})
	copy(u[8:], tag[8:])
	return u
}

// mgmtCall sends one $management request on handles 10 (requests) and 11
// (replies), attaching them on first use, and returns the response status.
func (r *rawConn) mgmtCall(attached *bool, op string, body amqp.Map) int32 {
	r.t.Helper()
	mgmt := DefaultQueueName + suffixMgmt
	if !*attached {
		r.send(0, &amqp.Attach{Name: "mreq", Handle: 10, Role: amqp.RoleSender, Target: &amqp.Target{Address: mgmt}})
		r.send(0, &amqp.Attach{Name: "mresp", Handle: 11, Role: amqp.RoleReceiver, Source: &amqp.Source{Address: mgmt}, Target: &amqp.Target{Address: "mresp"}})
		r.credit(11, 0, 10, false, false)
		*attached = true
	}
	req := &amqp.Message{
		Properties:            &amqp.Properties{MessageID: op, ReplyTo: "mresp"},
		ApplicationProperties: amqp.Map{{Key: "operation", Value: op}},
	}
	require.NoError(r.t, req.SetValue(body))
	payload, err := amqp.AppendMessage(nil, req)
	require.NoError(r.t, err)
	did := uint32(100)
	r.send(0, &amqp.Transfer{Handle: 10, DeliveryID: &did, DeliveryTag: []byte(op)}, payload...)
	for {
		_, f := nextOf[*amqp.Transfer](r)
		m, err := amqp.DecodeMessage(f.Payload)
		require.NoError(r.t, err)
		if m.Properties == nil || m.Properties.CorrelationID != op {
			continue
		}
		st, _ := m.ApplicationProperties.Get("statusCode")
		code, ok := st.(int32)
		require.True(r.t, ok, "statusCode %v", st)
		return code
	}
}

// settleOnce sends an unsettled accepted disposition for id and returns the
// reply's state.
func (r *rawConn) settleOnce(id uint32) amqp.DeliveryState {
	r.t.Helper()
	r.send(0, &amqp.Disposition{Role: amqp.RoleReceiver, First: id, State: &amqp.Accepted{}})
	for {
		d, _ := nextOf[*amqp.Disposition](r)
		if d.Role == amqp.RoleSender && d.First <= id && (d.Last == nil && d.First == id || d.Last != nil && *d.Last >= id) {
			return d.State
		}
	}
}

func requireLockLost(t *testing.T, state amqp.DeliveryState) {
	t.Helper()
	rej, ok := state.(*amqp.Rejected)
	require.True(t, ok, "want rejected, got %T", state)
	require.NotNil(t, rej.Error)
	assert.Equal(t, condLockLost, rej.Error.Condition)
}

func TestLinkLossKeepsLocks(t *testing.T) {
	t.Parallel()
	// How the first receive link ends; sameSession: the session is left for
	// a disposition there afterwards; connGone: the connection ends too.
	cases := []struct {
		name                  string
		end                   func(r *rawConn)
		sameSession, connGone bool
	}{
		{"detach", func(r *rawConn) {
			r.send(0, &amqp.Detach{Handle: 1, Closed: true})
			nextOf[*amqp.Detach](r)
		}, true, false},
		{"session_end", func(r *rawConn) {
			r.send(0, &amqp.End{})
			nextOf[*amqp.End](r)
		}, false, false},
		{"connection_close", func(r *rawConn) {
			r.send(0, &amqp.Close{})
			nextOf[*amqp.Close](r)
		}, false, true},
		{"connection_reset", func(r *rawConn) {
			nc, ok := r.nc.(*net.TCPConn)
			require.True(r.t, ok)
			require.NoError(r.t, nc.SetLinger(0))
			require.NoError(r.t, nc.Close())
		}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			srv, err := NewServer(&Options{TB: t, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			enqueue(t, srv, 1, 0)
			r1 := authedRaw(t, srv, defaultOpen(), defaultBegin())
			r1.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
			r1.credit(1, 0, 1, false, false)
			tr, _ := nextOf[*amqp.Transfer](r1)
			id, tok := *tr.DeliveryID, tokenFromTag(tr.DeliveryTag)
			tc.end(r1)
			if tc.connGone {
				require.Eventually(t, func() bool { return len(srv.snapshotConns()) == 0 }, 5*time.Second, 5*time.Millisecond)
			}
			st, err := srv.QueueStats(DefaultQueueName)
			require.NoError(t, err)
			require.Equal(t, Stats{Locked: 1}, st, "the lock must outlive the link")
			assert.Contains(t, logs.String(), "msg=link_ended_with_locked_messages")
			assert.Contains(t, logs.String(), "locked=1")

			if tc.sameSession {
				// A new link on the same session cannot settle the old delivery.
				r1.attachReceiver(2, nil, u8(amqp.RcvSettleModeSecond))
				requireLockLost(t, r1.settleOnce(id))
			}
			// Nor can another connection, which knows no such delivery id.
			r2 := authedRaw(t, srv, defaultOpen(), defaultBegin())
			r2.attachReceiver(1, nil, u8(amqp.RcvSettleModeSecond))
			requireLockLost(t, r2.settleOnce(id))
			st, err = srv.QueueStats(DefaultQueueName)
			require.NoError(t, err)
			require.Equal(t, Stats{Locked: 1}, st, "a failed disposition leaves the message locked")

			// By lock token through $management: renewed, then completed.
			attached := false
			tokens := amqp.Map{{Key: "lock-tokens", Value: amqp.NewArray(amqp.TypeCodeUUID, tok)}}
			assert.Equal(t, int32(statusOK), r2.mgmtCall(&attached, opRenewLock, tokens))
			complete := append(amqp.Map{{Key: "disposition-status", Value: "completed"}}, tokens...)
			assert.Equal(t, int32(statusOK), r2.mgmtCall(&attached, opUpdateDisposition, complete))
			st, err = srv.QueueStats(DefaultQueueName)
			require.NoError(t, err)
			assert.Equal(t, Stats{}, st)
			assert.Equal(t, int32(statusGone), r2.mgmtCall(&attached, opRenewLock, tokens), "settled: the lock is gone")
		})
	}
}
