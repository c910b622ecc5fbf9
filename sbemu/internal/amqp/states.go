package amqp

import "fmt"

// This file encodes and decodes the error type, the delivery states and
// the source and target terminus (Part 2 section 2.8.14, Part 3 sections
// 3.4 and 3.5).

func (e *Error) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descError, depth)
	w.sym(e.Condition)
	w.optStr(e.Description)
	w.mapv(e.Info)
	return w.finish()
}

func decodeError(d *decoder) (*Error, error) {
	e := &Error{}
	f := d.openFields("error")
	if f.need("condition") {
		e.Condition = f.sym()
	}
	if f.has() {
		e.Description = f.str()
	}
	if f.has() {
		e.Info = f.mapv()
	}
	return e, f.close()
}

func appendDeliveryState(b []byte, s DeliveryState, depth int) ([]byte, error) {
	switch s := s.(type) {
	case *Received:
		if s != nil {
			w := beginList(b, descReceived, depth)
			w.uint(s.SectionNumber)
			w.ulong(s.SectionOffset)
			return w.finish()
		}
	case *Accepted:
		if s != nil {
			w := beginList(b, descAccepted, depth)
			return w.finish()
		}
	case *Rejected:
		if s != nil {
			w := beginList(b, descRejected, depth)
			w.value(s.Error)
			return w.finish()
		}
	case *Released:
		if s != nil {
			w := beginList(b, descReleased, depth)
			return w.finish()
		}
	case *Modified:
		if s != nil {
			w := beginList(b, descModified, depth)
			w.optBool(s.DeliveryFailed)
			w.optBool(s.UndeliverableHere)
			w.mapv(s.MessageAnnotations)
			return w.finish()
		}
	default:
		return b, fmt.Errorf("amqp: cannot encode delivery state %T", s)
	}
	return append(b, byte(TypeCodeNull)), nil
}

func decodeDeliveryState(d *decoder, code uint64) (DeliveryState, error) {
	switch code {
	case descReceived:
		r := &Received{}
		f := d.openFields("received")
		if f.need("section-number") {
			r.SectionNumber = f.uint32()
		}
		if f.need("section-offset") {
			r.SectionOffset = f.uint64()
		}
		return r, f.close()
	case descAccepted:
		f := d.openFields("accepted")
		return &Accepted{}, f.close()
	case descRejected:
		r := &Rejected{}
		f := d.openFields("rejected")
		if f.has() {
			r.Error = f.errorv()
		}
		return r, f.close()
	case descReleased:
		f := d.openFields("released")
		return &Released{}, f.close()
	case descModified:
		m := &Modified{}
		f := d.openFields("modified")
		if f.has() {
			m.DeliveryFailed = f.boolean()
		}
		if f.has() {
			m.UndeliverableHere = f.boolean()
		}
		if f.has() {
			m.MessageAnnotations = f.mapv()
		}
		return m, f.close()
	}
	return nil, fmt.Errorf("amqp: descriptor %#x is not a delivery state", code)
}

// defaultExpiryPolicy is the terminus expiry policy when none is given.
const defaultExpiryPolicy Symbol = "session-end"

func (s *Source) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSource, depth)
	w.optStr(s.Address)
	w.optUint(s.Durable)
	w.optSym(s.ExpiryPolicy)
	w.optUint(s.Timeout)
	w.optBool(s.Dynamic)
	w.mapv(s.DynamicNodeProperties)
	w.optSym(s.DistributionMode)
	w.mapv(s.Filter)
	w.value(s.DefaultOutcome)
	w.symbols(s.Outcomes)
	w.symbols(s.Capabilities)
	return w.finish()
}

func decodeSource(d *decoder) (*Source, error) {
	s := &Source{}
	f := d.openFields("source")
	if f.has() {
		s.Address = f.str()
	}
	if f.has() {
		s.Durable = f.uint32()
	}
	if f.has() {
		s.ExpiryPolicy = f.sym()
	}
	if s.ExpiryPolicy == "" {
		s.ExpiryPolicy = defaultExpiryPolicy
	}
	if f.has() {
		s.Timeout = f.uint32()
	}
	if f.has() {
		s.Dynamic = f.boolean()
	}
	if f.has() {
		s.DynamicNodeProperties = f.mapv()
	}
	if f.has() {
		s.DistributionMode = f.sym()
	}
	if f.has() {
		s.Filter = f.mapv()
	}
	if f.has() {
		s.DefaultOutcome = f.value()
	}
	if f.has() {
		s.Outcomes = f.symbols()
	}
	if f.has() {
		s.Capabilities = f.symbols()
	}
	return s, f.close()
}

func (t *Target) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descTarget, depth)
	w.optStr(t.Address)
	w.optUint(t.Durable)
	w.optSym(t.ExpiryPolicy)
	w.optUint(t.Timeout)
	w.optBool(t.Dynamic)
	w.mapv(t.DynamicNodeProperties)
	w.symbols(t.Capabilities)
	return w.finish()
}

func decodeTarget(d *decoder) (*Target, error) {
	t := &Target{}
	f := d.openFields("target")
	if f.has() {
		t.Address = f.str()
	}
	if f.has() {
		t.Durable = f.uint32()
	}
	if f.has() {
		t.ExpiryPolicy = f.sym()
	}
	if t.ExpiryPolicy == "" {
		t.ExpiryPolicy = defaultExpiryPolicy
	}
	if f.has() {
		t.Timeout = f.uint32()
	}
	if f.has() {
		t.Dynamic = f.boolean()
	}
	if f.has() {
		t.DynamicNodeProperties = f.mapv()
	}
	if f.has() {
		t.Capabilities = f.symbols()
	}
	return t, f.close()
}

// sourceValue reads an attach source field (the caller has handled null).
func (d *decoder) sourceValue() (*Source, error) {
	code, err := d.descriptor()
	if err != nil {
		return nil, err
	}
	defer d.leave()
	if code != descSource {
		return nil, fmt.Errorf("expected a source, got descriptor %#x", code)
	}
	return decodeSource(d)
}

// targetValue reads an attach target field (the caller has handled null).
func (d *decoder) targetValue() (*Target, error) {
	code, err := d.descriptor()
	if err != nil {
		return nil, err
	}
	defer d.leave()
	if code != descTarget {
		return nil, fmt.Errorf("expected a target, got descriptor %#x", code)
	}
	return decodeTarget(d)
}
