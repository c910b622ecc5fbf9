package sbemu

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// Addresses of the special nodes.
const (
	addrCBS        = "$cbs"
	suffixMgmt     = "/$management"
	senderCredit   = 1000 // credit granted to peer senders, topped up at half
	maxLinkNameLen = 1024
)

// linkKind says what a link is for.
type linkKind int

const (
	kindEntity     linkKind = iota // a queue, topic, subscription or dead-letter queue
	kindCBS                        // $cbs request or reply link
	kindManagement                 // <entity>/$management request or reply link
)

// link is one attached link. The emulator's role is the opposite of the
// peer's: role holds the peer's. All fields are guarded by conn.mu.
type link struct {
	s            *session
	name         string
	remoteHandle uint32
	localHandle  uint32
	role         amqp.Role // the peer's role
	addr         string    // node address as the peer wrote it (target of peer senders, source of peer receivers)
	path         string    // addr reduced to the node path (nodePath): what routing and authorization use
	kind         linkKind
	queue        *broker.Queue // entity links and management links
	target       string        // the peer's target address (reply routing)

	sndSettle *uint8
	rcvSettle *uint8

	// Flow state. For peer senders deliveryCount is the peer's count as we
	// have seen it; for peer receivers it is ours.
	deliveryCount uint32
	credit        uint32
	drain         bool

	// Incoming delivery being reassembled (peer senders).
	inID       *uint32
	inSettled  bool
	inFormat   uint32
	inBuf      []byte
	inTooLarge bool

	// Outgoing (peer receivers).
	mode      broker.ReceiveMode
	pending   []*amqp.Message // RPC replies waiting for credit
	nextTag   uint64
	wake      chan struct{}
	done      chan struct{}
	stopped   bool
	detaching bool // we sent detach and wait for the peer's

	sessionReq bool // a session receiver (refused)
}

func (l *link) poke() {
	if l.wake == nil {
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// stop ends the link's pump; the link is no longer usable. It runs for
// every way a link ends: the peer's detach, the emulator's (DetachLinks),
// the session's end and the connection's close or loss.
func (l *link) stop() {
	if l.stopped {
		return
	}
	l.stopped = true
	if l.done != nil {
		close(l.done)
	}
	if n := l.abandonDeliveries(); n > 0 {
		l.log().Info("link_ended_with_locked_messages", slog.Int("locked", n))
	}
	l.inBuf, l.inID = nil, nil
}

// abandonDeliveries forgets the link's unsettled deliveries and returns how
// many there were. Their messages stay locked, as Service Bus keeps them
// (LINKLOSS.md): the lock runs to its locked-until, can be renewed and the
// message settled through $management by lock token from any link or
// connection meanwhile, and when it lapses the message is redelivered with
// its delivery count raised (or dead-lettered at MaxDeliveryCount). Only the
// delivery ids are dropped, so a disposition naming one of them later, on
// this session or any other, is answered message-lock-lost and leaves the
// message alone.
func (l *link) abandonDeliveries() int {
	n := 0
	for id, d := range l.s.unsettled {
		if d.link == l {
			delete(l.s.unsettled, id)
			n++
		}
	}
	return n
}

func (l *link) log() *slog.Logger {
	return l.s.c.log.With(slog.String("link", l.name), slog.String("entity", l.path))
}

// attach handles the peer's attach: it classifies the address, checks the
// CBS grant and the entity, and answers (or refuses).
func (s *session) attach(a *amqp.Attach) error {
	c := s.c
	switch {
	case s.links[a.Handle] != nil:
		return amqpErr(condHandleInUse, fmt.Sprintf("handle %d is already attached", a.Handle))
	case a.Handle > maxHandle:
		return amqpErr(condInvalidField, fmt.Sprintf("handle %d above handle-max %d", a.Handle, maxHandle))
	case c.linkCount >= c.s.opts.MaxLinks:
		return amqpErr(condResourceLimit, fmt.Sprintf("more than %d links on one connection", c.s.opts.MaxLinks))
	case len(a.Name) > maxLinkNameLen:
		return amqpErr(condInvalidField, "link name too long")
	}
	local := uint32(0)
	for s.outHandles[local] != nil {
		local++
	}
	l := &link{
		s:            s,
		name:         a.Name,
		remoteHandle: a.Handle,
		localHandle:  local,
		role:         a.Role,
		sndSettle:    a.SndSettleMode,
		rcvSettle:    a.RcvSettleMode,
	}
	if a.Role == amqp.RoleSender {
		if a.Target != nil {
			l.addr = a.Target.Address
		}
		if a.InitialDeliveryCount != nil {
			l.deliveryCount = *a.InitialDeliveryCount
		}
	} else {
		if a.Source != nil {
			l.addr = a.Source.Address
		}
		if a.Target != nil {
			l.target = a.Target.Address
		}
		if a.Source != nil {
			_, l.sessionReq = a.Source.Filter.Get(sessionFilter)
		}
	}
	l.path = nodePath(l.addr)
	s.links[a.Handle] = l
	s.outHandles[local] = l
	c.linkCount++

	err := l.resolve()
	if err == nil && l.sessionReq {
		err = errSessionsUnsupported
	}
	if err != nil {
		return l.refuse(a, err)
	}
	reply := &amqp.Attach{
		Name:          a.Name,
		Handle:        local,
		Role:          !a.Role,
		SndSettleMode: a.SndSettleMode,
		RcvSettleMode: a.RcvSettleMode,
		Source:        a.Source,
		Target:        a.Target,
	}
	maxSize := uint64(c.s.opts.MaxMessageSize)
	reply.MaxMessageSize = &maxSize
	if a.Role == amqp.RoleReceiver {
		zero := uint32(0)
		reply.InitialDeliveryCount = &zero
	}
	if err := s.send(reply); err != nil {
		return err
	}
	if a.Role == amqp.RoleSender {
		l.credit = senderCredit
		return s.send(l.linkFlow(false))
	}
	l.wake = make(chan struct{}, 1)
	l.done = make(chan struct{})
	if l.kind == kindEntity {
		l.mode = broker.PeekLock
		if a.SndSettleMode != nil && *a.SndSettleMode == amqp.SndSettleModeSettled {
			l.mode = broker.ReceiveAndDelete
		}
		c.wg.Add(1)
		go l.pump()
	}
	return nil
}

// errUnauthorized and errSendToSubqueue are attach refusals.
var (
	errUnauthorized   = errors.New("no valid CBS token covers this entity")
	errSendToSubqueue = errors.New("cannot send to a dead-letter queue")
	errNoAddress      = errors.New("link has no address")
	// errSendToSubscription and errReceiveFromTopic: a topic is sent to and
	// its subscriptions are received from, never the other way round.
	errSendToSubscription = errors.New("cannot send to a subscription: send to its topic")
	errReceiveFromTopic   = errors.New("cannot receive from a topic: receive from one of its subscriptions (<topic>/Subscriptions/<name>)")
	// errSessionsUnsupported refuses session receivers.
	errSessionsUnsupported = errors.New("sessions are not supported by this emulator")
)

// sessionFilter is the source filter key of a session receiver.
const sessionFilter = amqp.Symbol("com.microsoft:session-filter")

// resolve classifies l.path and checks authorization and existence. attach
// has reduced every address form (a bare path, a rooted one, a full sb://,
// amqp:// or amqps:// URI; see address.go) to the path.
func (l *link) resolve() error {
	c := l.s.c
	path := l.path
	switch {
	case path == "":
		return errNoAddress
	case path == addrCBS:
		l.kind = kindCBS
		return nil
	}
	if !c.grants.allowed(path, time.Now()) {
		return errUnauthorized
	}
	entity := path
	if e, ok := cutSuffixFold(path, suffixMgmt); ok {
		l.kind = kindManagement
		entity = e
	}
	q, err := c.s.broker.Entity(entity)
	if err != nil {
		return err
	}
	l.queue = q
	if l.kind == kindEntity && l.role == amqp.RoleSender {
		switch {
		case q.IsDeadLetterQueue():
			return errSendToSubqueue
		case q.Topic() != nil:
			return errSendToSubscription
		}
	}
	if l.kind == kindEntity && l.role == amqp.RoleReceiver && q.IsTopic() {
		return errReceiveFromTopic
	}
	return nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// refuse answers an attach with a null source (peer receiver) or target
// (peer sender) followed by detach(closed, error), as Service Bus does.
func (l *link) refuse(a *amqp.Attach, err error) error {
	e := l.attachError(err)
	l.log().Info("link_refused", slog.String("condition", string(e.Condition)), slog.String("description", e.Description))
	reply := &amqp.Attach{
		Name:          a.Name,
		Handle:        l.localHandle,
		Role:          !a.Role,
		SndSettleMode: a.SndSettleMode,
		RcvSettleMode: a.RcvSettleMode,
	}
	if a.Role == amqp.RoleSender {
		reply.Source = a.Source
	} else {
		reply.Target = a.Target
		zero := uint32(0)
		reply.InitialDeliveryCount = &zero
	}
	if err := l.s.send(reply); err != nil {
		return err
	}
	return l.detachWith(e)
}

func (l *link) attachError(err error) *amqp.Error {
	switch {
	case errors.Is(err, errUnauthorized):
		return amqpErr(condUnauthorized, err.Error())
	case errors.Is(err, broker.ErrEntityNotFound):
		return amqpErr(condNotFound, entityNotFound(l.path))
	case errors.Is(err, errSendToSubqueue), errors.Is(err, errNoAddress), errors.Is(err, errSessionsUnsupported),
		errors.Is(err, errSendToSubscription), errors.Is(err, errReceiveFromTopic):
		// not-allowed is fatal in the SDKs: they surface it instead of retrying.
		return amqpErr(condNotAllowed, err.Error())
	}
	return amqpErr(condInternal, err.Error())
}

// detachWith sends detach(closed, e) and stops the link; the link stays
// registered until the peer answers with its own detach.
func (l *link) detachWith(e *amqp.Error) error {
	l.stop()
	l.detaching = true
	return l.s.send(&amqp.Detach{Handle: l.localHandle, Closed: true, Error: e})
}

// detach handles the peer's detach.
func (s *session) detach(d *amqp.Detach) error {
	l := s.links[d.Handle]
	if l == nil {
		return amqpErr(condUnattachedHandle, fmt.Sprintf("detach of handle %d, which is not attached", d.Handle))
	}
	l.stop()
	delete(s.links, d.Handle)
	delete(s.outHandles, l.localHandle)
	s.c.linkCount--
	if l.detaching {
		return nil // the answer to our own detach
	}
	return s.send(&amqp.Detach{Handle: l.localHandle, Closed: d.Closed})
}

// linkFlow builds a flow with the session and link state.
func (l *link) linkFlow(echo bool) *amqp.Flow {
	f := l.s.sessionFlow()
	h, dc, cr := l.localHandle, l.deliveryCount, l.credit
	f.Handle, f.DeliveryCount, f.LinkCredit = &h, &dc, &cr
	f.Drain = l.drain
	f.Echo = echo
	return f
}

// flow handles a link flow from the peer.
func (l *link) flow(f *amqp.Flow) error {
	if l.stopped {
		return nil
	}
	if l.role == amqp.RoleSender {
		// The peer sends: it reports its delivery-count; our credit stands.
		if f.DeliveryCount != nil {
			l.deliveryCount = *f.DeliveryCount
		}
		if f.Echo {
			return l.s.send(l.linkFlow(false))
		}
		return nil
	}
	// The peer receives: credit = its delivery-count + link-credit − ours.
	if f.LinkCredit != nil {
		dc := l.deliveryCount
		if f.DeliveryCount != nil {
			dc = *f.DeliveryCount
		}
		credit := dc + *f.LinkCredit - l.deliveryCount
		if credit > 1<<30 {
			credit = 0 // the peer counted past us: treat as no credit
		}
		l.credit = credit
	}
	l.drain = f.Drain
	if l.kind != kindEntity {
		if err := l.flushReplies(); err != nil {
			return err
		}
		if l.drain {
			return l.finishDrain()
		}
	} else {
		l.poke()
	}
	if f.Echo {
		return l.s.send(l.linkFlow(false))
	}
	return nil
}

// finishDrain uses up the remaining credit and tells the peer so.
func (l *link) finishDrain() error {
	l.deliveryCount += l.credit
	l.credit = 0
	f := l.linkFlow(false)
	f.Drain = true
	l.drain = false
	return l.s.send(f)
}
