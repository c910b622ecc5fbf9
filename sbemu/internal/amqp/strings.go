package amqp

import (
	"fmt"
	"strconv"
	"strings"
)

// This file gives every frame body a String method for debug logs. They
// show the performative and its key fields, never message payloads or SASL
// credentials.

// fieldPrinter builds "name{k=v k=v}".
type fieldPrinter struct {
	sb   strings.Builder
	more bool // a field has been written
}

func newPrinter(name string) *fieldPrinter {
	p := &fieldPrinter{}
	p.sb.WriteString(name)
	p.sb.WriteByte('{')
	return p
}

func (p *fieldPrinter) add(key string, v any) {
	if p.more {
		p.sb.WriteByte(' ')
	}
	p.more = true
	p.sb.WriteString(key)
	p.sb.WriteByte('=')
	switch v := v.(type) {
	case string:
		p.sb.WriteString(v)
	case quoted:
		p.sb.WriteString(strconv.Quote(string(v)))
	case Symbol:
		p.sb.WriteString(string(v))
	case *uint32:
		if v == nil {
			p.sb.WriteString("<nil>")
		} else {
			p.sb.WriteString(strconv.FormatUint(uint64(*v), 10))
		}
	default:
		fmt.Fprint(&p.sb, v)
	}
}

// quoted marks a peer-supplied string to be printed quoted.
type quoted string

func (p *fieldPrinter) String() string {
	p.sb.WriteByte('}')
	return p.sb.String()
}

func roleName(r Role) string {
	if r == RoleReceiver {
		return "receiver"
	}
	return "sender"
}

func sndSettleName(m *uint8) string {
	if m == nil {
		return "default(mixed)"
	}
	switch *m {
	case SndSettleModeUnsettled:
		return "unsettled"
	case SndSettleModeSettled:
		return "settled"
	case SndSettleModeMixed:
		return "mixed"
	}
	return strconv.Itoa(int(*m))
}

func rcvSettleName(m *uint8) string {
	if m == nil {
		return "default(first)"
	}
	switch *m {
	case RcvSettleModeFirst:
		return "first"
	case RcvSettleModeSecond:
		return "second"
	}
	return strconv.Itoa(int(*m))
}

func (p *fieldPrinter) err(e *Error) {
	if e != nil {
		p.add("error", e.String())
	}
}

// String formats the error's condition and description.
func (e *Error) String() string {
	if e == nil {
		return "<nil>"
	}
	p := newPrinter("Error")
	p.add("condition", e.Condition)
	if e.Description != "" {
		p.add("description", quoted(e.Description))
	}
	return p.String()
}

// Error implements the error interface, so a received AMQP error can be
// returned as a Go error.
func (e *Error) Error() string {
	if e == nil {
		return "amqp: <nil error>"
	}
	if e.Description == "" {
		return "amqp: " + string(e.Condition)
	}
	return "amqp: " + string(e.Condition) + ": " + e.Description
}

func stateName(s DeliveryState) string {
	switch s := s.(type) {
	case nil:
		return "<nil>"
	case *Received:
		return fmt.Sprintf("received(section=%d offset=%d)", s.SectionNumber, s.SectionOffset)
	case *Accepted:
		return "accepted"
	case *Rejected:
		if s.Error != nil {
			return "rejected(" + string(s.Error.Condition) + ")"
		}
		return "rejected"
	case *Released:
		return "released"
	case *Modified:
		return fmt.Sprintf("modified(delivery-failed=%t undeliverable-here=%t)", s.DeliveryFailed, s.UndeliverableHere)
	}
	return fmt.Sprintf("%T", s)
}

// String formats the key fields of the open performative.
func (o *Open) String() string {
	p := newPrinter("Open")
	p.add("container-id", quoted(o.ContainerID))
	p.add("hostname", quoted(o.Hostname))
	p.add("max-frame-size", o.MaxFrameSize)
	p.add("channel-max", o.ChannelMax)
	p.add("idle-time-out", o.IdleTimeout)
	return p.String()
}

// String formats the key fields of the begin performative.
func (g *Begin) String() string {
	p := newPrinter("Begin")
	if g.RemoteChannel != nil {
		p.add("remote-channel", *g.RemoteChannel)
	} else {
		p.add("remote-channel", "<nil>")
	}
	p.add("next-outgoing-id", g.NextOutgoingID)
	p.add("incoming-window", g.IncomingWindow)
	p.add("outgoing-window", g.OutgoingWindow)
	p.add("handle-max", g.HandleMax)
	return p.String()
}

// String formats the key fields of the attach performative.
func (a *Attach) String() string {
	p := newPrinter("Attach")
	p.add("name", quoted(a.Name))
	p.add("handle", a.Handle)
	p.add("role", roleName(a.Role))
	p.add("snd-settle-mode", sndSettleName(a.SndSettleMode))
	p.add("rcv-settle-mode", rcvSettleName(a.RcvSettleMode))
	if a.Source != nil {
		p.add("source", quoted(a.Source.Address))
	} else {
		p.add("source", "<nil>")
	}
	if a.Target != nil {
		p.add("target", quoted(a.Target.Address))
	} else {
		p.add("target", "<nil>")
	}
	p.add("initial-delivery-count", a.InitialDeliveryCount)
	if a.MaxMessageSize != nil {
		p.add("max-message-size", *a.MaxMessageSize)
	}
	return p.String()
}

// String formats the key fields of the flow performative.
func (l *Flow) String() string {
	p := newPrinter("Flow")
	p.add("next-incoming-id", l.NextIncomingID)
	p.add("incoming-window", l.IncomingWindow)
	p.add("next-outgoing-id", l.NextOutgoingID)
	p.add("outgoing-window", l.OutgoingWindow)
	p.add("handle", l.Handle)
	p.add("delivery-count", l.DeliveryCount)
	p.add("link-credit", l.LinkCredit)
	p.add("available", l.Available)
	p.add("drain", l.Drain)
	p.add("echo", l.Echo)
	return p.String()
}

// String formats the key fields of the transfer performative; the payload
// is not shown.
func (t *Transfer) String() string {
	p := newPrinter("Transfer")
	p.add("handle", t.Handle)
	p.add("delivery-id", t.DeliveryID)
	p.add("delivery-tag", fmt.Sprintf("%x", t.DeliveryTag))
	p.add("message-format", t.MessageFormat)
	if t.Settled != nil {
		p.add("settled", *t.Settled)
	} else {
		p.add("settled", "<nil>")
	}
	p.add("more", t.More)
	p.add("rcv-settle-mode", rcvSettleName(t.RcvSettleMode))
	if t.State != nil {
		p.add("state", stateName(t.State))
	}
	if t.Aborted {
		p.add("aborted", true)
	}
	return p.String()
}

// String formats the key fields of the disposition performative.
func (d *Disposition) String() string {
	p := newPrinter("Disposition")
	p.add("role", roleName(d.Role))
	p.add("first", d.First)
	p.add("last", d.Last)
	p.add("settled", d.Settled)
	p.add("state", stateName(d.State))
	return p.String()
}

// String formats the key fields of the detach performative.
func (t *Detach) String() string {
	p := newPrinter("Detach")
	p.add("handle", t.Handle)
	p.add("closed", t.Closed)
	p.err(t.Error)
	return p.String()
}

// String formats the end performative and its error.
func (e *End) String() string {
	p := newPrinter("End")
	p.err(e.Error)
	return p.String()
}

// String formats the close performative and its error.
func (c *Close) String() string {
	p := newPrinter("Close")
	p.err(c.Error)
	return p.String()
}

// String lists the offered mechanisms.
func (m *SASLMechanisms) String() string {
	p := newPrinter("SASLMechanisms")
	p.add("mechanisms", m.Mechanisms)
	return p.String()
}

// String shows the mechanism and hostname; the initial response (a
// credential) is shown only by its length.
func (m *SASLInit) String() string {
	p := newPrinter("SASLInit")
	p.add("mechanism", m.Mechanism)
	p.add("initial-response-len", len(m.InitialResponse))
	p.add("hostname", quoted(m.Hostname))
	return p.String()
}

// String shows only the challenge's length.
func (m *SASLChallenge) String() string {
	p := newPrinter("SASLChallenge")
	p.add("challenge-len", len(m.Challenge))
	return p.String()
}

// String shows only the response's length (it may be a credential).
func (m *SASLResponse) String() string {
	p := newPrinter("SASLResponse")
	p.add("response-len", len(m.Response))
	return p.String()
}

// String shows the outcome code.
func (m *SASLOutcome) String() string {
	p := newPrinter("SASLOutcome")
	p.add("code", m.Code)
	p.add("additional-data-len", len(m.AdditionalData))
	return p.String()
}

// String formats the frame's type, channel and body; a transfer payload is
// shown only by its length.
func (f Frame) String() string {
	kind := "AMQP"
	if f.Type == FrameTypeSASL {
		kind = "SASL"
	}
	if f.Body == nil {
		return fmt.Sprintf("%s frame ch=%d heartbeat", kind, f.Channel)
	}
	s := fmt.Sprintf("%s frame ch=%d %v", kind, f.Channel, f.Body)
	if len(f.Payload) > 0 {
		s += fmt.Sprintf(" payload-len=%d", len(f.Payload))
	}
	return s
}
