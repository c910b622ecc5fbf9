package amqp

import (
	"errors"
	"fmt"
)

// This file encodes and decodes messages (Part 3 section 3.2).

// sectionRank ranks the sections that precede the body; body sections and
// the footer rank after them.
func sectionRank(code uint64) int {
	switch code {
	case descHeader:
		return 1
	case descDeliveryAnnotations:
		return 2
	case descMessageAnnotations:
		return 3
	case descProperties:
		return 4
	case descApplicationProperties:
		return 5
	case descData, descAMQPSequence, descAMQPValue:
		return 6
	case descFooter:
		return 7
	}
	return 0
}

// DecodeMessage decodes an encoded message. Sections after
// application-properties are checked for well-formedness and kept verbatim
// (copied) in RawBody. Sections out of order, unknown sections, mixed body
// kinds and anything after the footer are errors.
func DecodeMessage(b []byte) (*Message, error) {
	m := &Message{}
	d := decoder{b: b}
	last := 0
	for d.off < len(b) {
		start := d.off
		code, err := d.descriptor()
		if err != nil {
			return nil, wrapError("message", err)
		}
		rank := sectionRank(code)
		switch {
		case rank == 0:
			return nil, fmt.Errorf("amqp: message: unknown section descriptor %#x", code)
		case rank <= last:
			return nil, fmt.Errorf("amqp: message: section %#x out of order", code)
		case rank >= 6:
			d.off, d.depth = start, 0
			if err := checkBody(&d); err != nil {
				return nil, wrapError("message body", err)
			}
			m.RawBody = append([]byte{}, b[start:]...)
			return m, nil
		}
		last = rank
		switch code {
		case descHeader:
			m.Header, err = decodeHeader(&d)
		case descDeliveryAnnotations:
			m.DeliveryAnnotations, err = d.annotations()
		case descMessageAnnotations:
			m.MessageAnnotations, err = d.annotations()
		case descProperties:
			m.Properties, err = decodeProperties(&d)
		case descApplicationProperties:
			m.ApplicationProperties, err = d.annotations()
		}
		if err != nil {
			return nil, wrapError("message", err)
		}
		d.leave()
	}
	return m, nil
}

// annotations reads a map section value; null gives a nil map.
func (d *decoder) annotations() (Map, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if TypeCode(c) == TypeCodeNull {
		d.off++
		return nil, nil
	}
	return d.mapValue()
}

// checkBody validates body sections (all data, all amqp-sequence, or one
// amqp-value) and an optional footer, without keeping them.
func checkBody(d *decoder) error {
	var kind uint64
	for d.off < len(d.b) {
		code, err := d.descriptor()
		if err != nil {
			return err
		}
		switch code {
		case descData:
			if _, err := d.dataPayload(); err != nil {
				return err
			}
		case descAMQPSequence:
			c, err := d.byte()
			if err != nil {
				return err
			}
			if !isListCode(TypeCode(c)) {
				return fmt.Errorf("amqp-sequence section holds format code %#02x, not a list", c)
			}
			if _, err := d.body(TypeCode(c)); err != nil {
				return err
			}
		case descAMQPValue:
			if kind == descAMQPValue {
				return errors.New("more than one amqp-value section")
			}
			if _, err := d.value(); err != nil {
				return err
			}
		case descFooter:
			if _, err := d.annotations(); err != nil {
				return err
			}
			if d.off != len(d.b) {
				return errors.New("section after the footer")
			}
			return nil
		default:
			return fmt.Errorf("section %#x after the body", code)
		}
		if kind != 0 && kind != code {
			return errors.New("mixed body section kinds")
		}
		kind = code
		d.leave()
	}
	return nil
}

func isListCode(c TypeCode) bool {
	return c == TypeCodeList0 || c == TypeCodeList8 || c == TypeCodeList32
}

// dataPayload reads the binary of a data section without copying.
func (d *decoder) dataPayload() ([]byte, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	if TypeCode(c) != TypeCodeVbin8 && TypeCode(c) != TypeCodeVbin32 {
		return nil, fmt.Errorf("data section holds format code %#02x, not binary", c)
	}
	return d.variable(TypeCode(c))
}

// AppendMessage appends the encoding of m (header, delivery-annotations,
// message-annotations, properties, application-properties, then RawBody).
// Nil sections are left out; RawBody is written unchanged.
func AppendMessage(b []byte, m *Message) ([]byte, error) {
	if m == nil {
		return b, errors.New("amqp: nil message")
	}
	start := len(b)
	var err error
	if m.Header != nil {
		b = m.Header.appendTo(b)
	}
	for _, s := range [...]struct {
		code uint64
		m    Map
	}{{descDeliveryAnnotations, m.DeliveryAnnotations}, {descMessageAnnotations, m.MessageAnnotations}} {
		if s.m != nil {
			if b, err = appendMapSection(b, s.code, s.m); err != nil {
				return b[:start], err
			}
		}
	}
	if m.Properties != nil {
		if b, err = m.Properties.appendTo(b); err != nil {
			return b[:start], err
		}
	}
	if m.ApplicationProperties != nil {
		if b, err = appendMapSection(b, descApplicationProperties, m.ApplicationProperties); err != nil {
			return b[:start], err
		}
	}
	return append(b, m.RawBody...), nil
}

func appendMapSection(b []byte, code uint64, m Map) ([]byte, error) {
	b = append(b, byte(TypeCodeDescribed), byte(TypeCodeSmallUlong), byte(code))
	return appendMap(b, m, 1)
}

// appendTo encodes the header with all five fields present, so that
// delivery-count is on the wire even when 0. A TTL of 0 (none) is null.
func (h *Header) appendTo(b []byte) []byte {
	w := beginList(b, descHeader, 0)
	w.boolean(h.Durable)
	w.ubyte(h.Priority)
	w.optUint(h.TTL)
	w.boolean(h.FirstAcquirer)
	w.uint(h.DeliveryCount)
	b, _ = w.finish() // cannot fail: fixed fields at depth 0
	return b
}

// defaultPriority is the message priority when the header gives none.
const defaultPriority = 4

func decodeHeader(d *decoder) (*Header, error) {
	h := &Header{Priority: defaultPriority}
	f := d.openFields("header")
	if f.has() {
		h.Durable = f.boolean()
	}
	if f.has() {
		h.Priority = f.uint8()
	}
	if f.has() {
		h.TTL = f.uint32()
	}
	if f.has() {
		h.FirstAcquirer = f.boolean()
	}
	if f.has() {
		h.DeliveryCount = f.uint32()
	}
	return h, f.close()
}

// checkMessageID accepts the AMQP message-id types.
func checkMessageID(v any) error {
	switch v.(type) {
	case nil, uint64, UUID, []byte, string:
		return nil
	}
	return fmt.Errorf("message id of type %T (want uint64, UUID, []byte or string)", v)
}

func (p *Properties) appendTo(b []byte) ([]byte, error) {
	for _, id := range [...]any{p.MessageID, p.CorrelationID} {
		if err := checkMessageID(id); err != nil {
			return b, fmt.Errorf("amqp: properties: %w", err)
		}
	}
	w := beginList(b, descProperties, 0)
	w.value(p.MessageID)
	w.optBinary(p.UserID)
	w.optStr(p.To)
	w.optStr(p.Subject)
	w.optStr(p.ReplyTo)
	w.value(p.CorrelationID)
	w.optSym(p.ContentType)
	w.optSym(p.ContentEncoding)
	w.timestamp(p.AbsoluteExpiryTime)
	w.timestamp(p.CreationTime)
	w.optStr(p.GroupID)
	w.ptrUint(p.GroupSequence)
	w.optStr(p.ReplyToGroupID)
	return w.finish()
}

func decodeProperties(d *decoder) (*Properties, error) {
	p := &Properties{}
	f := d.openFields("properties")
	if f.has() {
		p.MessageID = f.value()
		f.fail(checkMessageID(p.MessageID))
	}
	if f.has() {
		p.UserID = f.binary()
	}
	if f.has() {
		p.To = f.str()
	}
	if f.has() {
		p.Subject = f.str()
	}
	if f.has() {
		p.ReplyTo = f.str()
	}
	if f.has() {
		p.CorrelationID = f.value()
		f.fail(checkMessageID(p.CorrelationID))
	}
	if f.has() {
		p.ContentType = f.sym()
	}
	if f.has() {
		p.ContentEncoding = f.sym()
	}
	if f.has() {
		p.AbsoluteExpiryTime = f.timestamp()
	}
	if f.has() {
		p.CreationTime = f.timestamp()
	}
	if f.has() {
		p.GroupID = f.str()
	}
	if f.has() {
		p.GroupSequence = f.uint32p()
	}
	if f.has() {
		p.ReplyToGroupID = f.str()
	}
	return p, f.close()
}

// ErrNotData reports a body that is not made of data sections.
var ErrNotData = errors.New("amqp: message body is not data sections")

// ErrNoValue reports a body without an amqp-value section.
var ErrNoValue = errors.New("amqp: message body has no amqp-value section")

// Data returns the payloads of the message's data sections, in order. The
// slices share RawBody's memory. A body of amqp-sequence or amqp-value
// sections is ErrNotData; an empty body gives no payloads.
func (m *Message) Data() ([][]byte, error) {
	var out [][]byte
	d := decoder{b: m.RawBody}
	for d.off < len(d.b) {
		code, err := d.descriptor()
		if err != nil {
			return nil, wrapError("message body", err)
		}
		switch code {
		case descData:
			p, err := d.dataPayload()
			if err != nil {
				return nil, wrapError("message body", err)
			}
			out = append(out, p)
		case descFooter:
			return out, nil
		default:
			return nil, ErrNotData
		}
		d.leave()
	}
	return out, nil
}

// Value decodes an amqp-value body section. A body without one is ErrNoValue.
func (m *Message) Value() (any, error) {
	d := decoder{b: m.RawBody}
	if d.off >= len(d.b) {
		return nil, ErrNoValue
	}
	code, err := d.descriptor()
	if err != nil {
		return nil, wrapError("message body", err)
	}
	if code != descAMQPValue {
		return nil, ErrNoValue
	}
	v, err := d.value()
	if err != nil {
		return nil, wrapError("message body", err)
	}
	return v, nil
}

// SetValue makes the body a single amqp-value section holding v (any value
// AppendValue accepts); any footer is dropped.
func (m *Message) SetValue(v any) error {
	b := append([]byte(nil), byte(TypeCodeDescribed), byte(TypeCodeSmallUlong), byte(descAMQPValue))
	b, err := appendValue(b, v, 1)
	if err != nil {
		return err
	}
	m.RawBody = b
	return nil
}

// SetData makes the body a single data section holding p; any footer is dropped.
func (m *Message) SetData(p []byte) {
	b := make([]byte, 0, len(p)+8)
	b = append(b, byte(TypeCodeDescribed), byte(TypeCodeSmallUlong), byte(descData))
	m.RawBody = appendBinary(b, p)
}

// SplitBatch decodes every data section of a batch envelope (message format
// BatchMessageFormat) as a complete message.
func SplitBatch(envelope *Message) ([]*Message, error) {
	if envelope == nil {
		return nil, errors.New("amqp: nil batch envelope")
	}
	data, err := envelope.Data()
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, errors.New("amqp: batch envelope has no data sections")
	}
	out := make([]*Message, len(data))
	for i, p := range data {
		if out[i], err = DecodeMessage(p); err != nil {
			return nil, fmt.Errorf("amqp: batch message %d: %w", i, err)
		}
	}
	return out, nil
}
