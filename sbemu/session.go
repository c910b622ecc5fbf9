package sbemu

import (
	"fmt"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// Session-level constants.
const (
	// sessionWindow is the incoming-window the emulator announces; it sends
	// a session flow to reopen it once half has been used.
	sessionWindow = 5000
	// maxHandle is the handle-max the emulator announces.
	maxHandle = 4095
	// bigWindow stands in for "unlimited" outgoing-window.
	bigWindow = 1<<31 - 1
)

// session is one begun session. All fields are guarded by conn.mu.
type session struct {
	c        *conn
	remoteCh uint16
	localCh  uint16

	links      map[uint32]*link // by the peer's (input) handle
	outHandles map[uint32]*link // by our (output) handle

	// Incoming transfers (peer → emulator).
	nextIncomingID uint32
	inUsed         uint32 // transfers received since the window was last reopened

	// Outgoing transfers (emulator → peer).
	nextOutgoingID       uint32 // transfer-id of the next frame
	nextDeliveryID       uint32
	remoteNextIncomingID uint32
	remoteIncomingWindow uint32

	// unsettled maps our delivery ids to locked messages awaiting the
	// peer's disposition on this session. An entry lives as long as the
	// link that sent it; the lock itself belongs to the queue.
	unsettled map[uint32]*delivery
}

func newSession(c *conn, remote, local uint16, b *amqp.Begin) *session {
	return &session{
		c:                    c,
		remoteCh:             remote,
		localCh:              local,
		links:                map[uint32]*link{},
		outHandles:           map[uint32]*link{},
		nextIncomingID:       b.NextOutgoingID,
		remoteIncomingWindow: b.IncomingWindow,
		unsettled:            map[uint32]*delivery{},
	}
}

func (s *session) send(body amqp.Body) error { return s.c.send(s.localCh, body) }

// outgoingRoom is how many more transfer frames the peer's incoming window allows.
func (s *session) outgoingRoom() uint32 {
	room := s.remoteNextIncomingID + s.remoteIncomingWindow - s.nextOutgoingID
	if room > 1<<31 {
		return 0 // the peer shrank its window below what is in flight
	}
	return room
}

// teardown stops every link of the session (on end or connection loss).
// The locks its receivers took outlive it (see link.abandonDeliveries).
func (s *session) teardown() {
	for _, l := range s.links {
		l.stop()
		s.c.linkCount--
	}
	s.links = map[uint32]*link{}
	s.outHandles = map[uint32]*link{}
	s.unsettled = map[uint32]*delivery{}
}

// sessionFlow builds a flow carrying only the session's state.
func (s *session) sessionFlow() *amqp.Flow {
	next := s.nextIncomingID
	return &amqp.Flow{
		NextIncomingID: &next,
		IncomingWindow: sessionWindow - s.inUsed,
		NextOutgoingID: s.nextOutgoingID,
		OutgoingWindow: bigWindow,
	}
}

// flow handles a session flow or a link flow.
func (s *session) flow(f *amqp.Flow) error {
	if f.NextIncomingID != nil {
		s.remoteNextIncomingID = *f.NextIncomingID
	} else {
		s.remoteNextIncomingID = 0 // our initial next-outgoing-id
	}
	s.remoteIncomingWindow = f.IncomingWindow
	if f.Handle == nil {
		for _, l := range s.links {
			l.poke()
		}
		if f.Echo {
			return s.send(s.sessionFlow())
		}
		return nil
	}
	l := s.links[*f.Handle]
	if l == nil {
		return amqpErr(condUnattachedHandle, fmt.Sprintf("flow on handle %d, which is not attached", *f.Handle))
	}
	return l.flow(f)
}

// countIncoming accounts for one received transfer frame and reopens the
// window when half of it has been used.
func (s *session) countIncoming() error {
	s.nextIncomingID++
	s.inUsed++
	if s.inUsed >= sessionWindow/2 {
		s.inUsed = 0
		return s.send(s.sessionFlow())
	}
	return nil
}

// transfer routes an incoming transfer frame to its link.
func (s *session) transfer(t *amqp.Transfer, payload []byte) error {
	if err := s.countIncoming(); err != nil {
		return err
	}
	l := s.links[t.Handle]
	if l == nil {
		return amqpErr(condUnattachedHandle, fmt.Sprintf("transfer on handle %d, which is not attached", t.Handle))
	}
	if l.role != amqp.RoleSender {
		return amqpErr(condNotAllowed, "transfer on a link where the emulator is the sender")
	}
	if l.detaching {
		return nil // detached by the emulator; the peer has not seen it yet
	}
	return l.receiveTransfer(t, payload)
}

// disposition settles our deliveries (role receiver) named by the peer.
func (s *session) disposition(d *amqp.Disposition) error {
	if d.Role != amqp.RoleReceiver {
		return nil // the peer settling its own transfers: we settled them already
	}
	last := d.First
	if d.Last != nil {
		last = *d.Last
	}
	if last-d.First > 1<<20 {
		return amqpErr(condInvalidField, "disposition range too large")
	}
	var run *amqp.Disposition // consecutive ids with the same reply
	flush := func() error {
		if run == nil {
			return nil
		}
		r := run
		run = nil
		return s.send(r)
	}
	for id := d.First; ; id++ {
		dv := s.unsettled[id]
		if dv != nil {
			delete(s.unsettled, id)
		}
		state := settleDelivery(s.c.s, dv, d.State)
		if !d.Settled {
			if run != nil && sameOutcome(run.State, state) && *run.Last+1 == id {
				*run.Last = id
			} else {
				if err := flush(); err != nil {
					return err
				}
				lastID := id
				run = &amqp.Disposition{Role: amqp.RoleSender, First: id, Last: &lastID, Settled: true, State: state}
			}
		}
		if id == last {
			break
		}
	}
	return flush()
}

// sameOutcome reports whether two replies can share one disposition range:
// both accepted, or both rejected with the same condition.
func sameOutcome(a, b amqp.DeliveryState) bool {
	switch a := a.(type) {
	case *amqp.Accepted:
		_, ok := b.(*amqp.Accepted)
		return ok
	case *amqp.Rejected:
		b, ok := b.(*amqp.Rejected)
		return ok && a.Error != nil && b.Error != nil && a.Error.Condition == b.Error.Condition
	}
	return false
}
