package amqp

import "math"

// This file encodes and decodes the connection, session and link
// performatives (AMQP 1.0 Part 2, section 2.7).

// appendTo encodes o as amqp:open:list. MaxFrameSize and ChannelMax are
// always written as given.
func (o *Open) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descOpen, depth)
	w.str(o.ContainerID)
	w.optStr(o.Hostname)
	w.uint(o.MaxFrameSize)
	w.ushort(o.ChannelMax)
	w.optUint(o.IdleTimeout)
	w.symbols(o.OutgoingLocales)
	w.symbols(o.IncomingLocales)
	w.symbols(o.OfferedCapabilities)
	w.symbols(o.DesiredCapabilities)
	w.mapv(o.Properties)
	return w.finish()
}

func decodeOpen(d *decoder) (*Open, error) {
	o := &Open{MaxFrameSize: math.MaxUint32, ChannelMax: math.MaxUint16}
	f := d.openFields("open")
	if f.need("container-id") {
		o.ContainerID = f.str()
	}
	if f.has() {
		o.Hostname = f.str()
	}
	if f.has() {
		o.MaxFrameSize = f.uint32()
	}
	if f.has() {
		o.ChannelMax = f.uint16()
	}
	if f.has() {
		o.IdleTimeout = f.uint32()
	}
	if f.has() {
		o.OutgoingLocales = f.symbols()
	}
	if f.has() {
		o.IncomingLocales = f.symbols()
	}
	if f.has() {
		o.OfferedCapabilities = f.symbols()
	}
	if f.has() {
		o.DesiredCapabilities = f.symbols()
	}
	if f.has() {
		o.Properties = f.mapv()
	}
	return o, f.close()
}

// appendTo encodes g as amqp:begin:list. HandleMax is always written as given.
func (g *Begin) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descBegin, depth)
	if g.RemoteChannel != nil {
		w.ushort(*g.RemoteChannel)
	} else {
		w.null()
	}
	w.uint(g.NextOutgoingID)
	w.uint(g.IncomingWindow)
	w.uint(g.OutgoingWindow)
	w.uint(g.HandleMax)
	w.symbols(g.OfferedCapabilities)
	w.symbols(g.DesiredCapabilities)
	w.mapv(g.Properties)
	return w.finish()
}

func decodeBegin(d *decoder) (*Begin, error) {
	g := &Begin{HandleMax: math.MaxUint32}
	f := d.openFields("begin")
	if f.has() {
		ch := f.uint16()
		g.RemoteChannel = &ch
	}
	if f.need("next-outgoing-id") {
		g.NextOutgoingID = f.uint32()
	}
	if f.need("incoming-window") {
		g.IncomingWindow = f.uint32()
	}
	if f.need("outgoing-window") {
		g.OutgoingWindow = f.uint32()
	}
	if f.has() {
		g.HandleMax = f.uint32()
	}
	if f.has() {
		g.OfferedCapabilities = f.symbols()
	}
	if f.has() {
		g.DesiredCapabilities = f.symbols()
	}
	if f.has() {
		g.Properties = f.mapv()
	}
	return g, f.close()
}

func (a *Attach) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descAttach, depth)
	w.str(a.Name)
	w.uint(a.Handle)
	w.boolean(bool(a.Role))
	w.ptrUbyte(a.SndSettleMode)
	w.ptrUbyte(a.RcvSettleMode)
	w.value(a.Source)
	w.value(a.Target)
	w.mapv(a.Unsettled)
	w.optBool(a.IncompleteUnsettled)
	w.ptrUint(a.InitialDeliveryCount)
	if a.MaxMessageSize != nil {
		w.ulong(*a.MaxMessageSize)
	} else {
		w.null()
	}
	w.symbols(a.OfferedCapabilities)
	w.symbols(a.DesiredCapabilities)
	w.mapv(a.Properties)
	return w.finish()
}

func decodeAttach(d *decoder) (*Attach, error) {
	a := &Attach{}
	f := d.openFields("attach")
	if f.need("name") {
		a.Name = f.str()
	}
	if f.need("handle") {
		a.Handle = f.uint32()
	}
	if f.need("role") {
		a.Role = Role(f.boolean())
	}
	if f.has() {
		a.SndSettleMode = f.uint8p()
	}
	if f.has() {
		a.RcvSettleMode = f.uint8p()
	}
	if f.has() {
		v, err := f.d.sourceValue()
		f.fail(err)
		a.Source = v
	}
	if f.has() {
		v, err := f.d.targetValue()
		f.fail(err)
		a.Target = v
	}
	if f.has() {
		a.Unsettled = f.mapv()
	}
	if f.has() {
		a.IncompleteUnsettled = f.boolean()
	}
	if f.has() {
		a.InitialDeliveryCount = f.uint32p()
	}
	if f.has() {
		v := f.uint64()
		a.MaxMessageSize = &v
	}
	if f.has() {
		a.OfferedCapabilities = f.symbols()
	}
	if f.has() {
		a.DesiredCapabilities = f.symbols()
	}
	if f.has() {
		a.Properties = f.mapv()
	}
	return a, f.close()
}

func (l *Flow) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descFlow, depth)
	w.ptrUint(l.NextIncomingID)
	w.uint(l.IncomingWindow)
	w.uint(l.NextOutgoingID)
	w.uint(l.OutgoingWindow)
	w.ptrUint(l.Handle)
	w.ptrUint(l.DeliveryCount)
	w.ptrUint(l.LinkCredit)
	w.ptrUint(l.Available)
	w.optBool(l.Drain)
	w.optBool(l.Echo)
	w.mapv(l.Properties)
	return w.finish()
}

func decodeFlow(d *decoder) (*Flow, error) {
	l := &Flow{}
	f := d.openFields("flow")
	if f.has() {
		l.NextIncomingID = f.uint32p()
	}
	if f.need("incoming-window") {
		l.IncomingWindow = f.uint32()
	}
	if f.need("next-outgoing-id") {
		l.NextOutgoingID = f.uint32()
	}
	if f.need("outgoing-window") {
		l.OutgoingWindow = f.uint32()
	}
	if f.has() {
		l.Handle = f.uint32p()
	}
	if f.has() {
		l.DeliveryCount = f.uint32p()
	}
	if f.has() {
		l.LinkCredit = f.uint32p()
	}
	if f.has() {
		l.Available = f.uint32p()
	}
	if f.has() {
		l.Drain = f.boolean()
	}
	if f.has() {
		l.Echo = f.boolean()
	}
	if f.has() {
		l.Properties = f.mapv()
	}
	return l, f.close()
}

func (t *Transfer) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descTransfer, depth)
	w.uint(t.Handle)
	w.ptrUint(t.DeliveryID)
	w.optBinary(t.DeliveryTag)
	w.ptrUint(t.MessageFormat)
	if t.Settled != nil {
		w.boolean(*t.Settled)
	} else {
		w.null()
	}
	w.optBool(t.More)
	w.ptrUbyte(t.RcvSettleMode)
	w.value(t.State)
	w.optBool(t.Resume)
	w.optBool(t.Aborted)
	w.optBool(t.Batchable)
	return w.finish()
}

func decodeTransfer(d *decoder) (*Transfer, error) {
	t := &Transfer{}
	f := d.openFields("transfer")
	if f.need("handle") {
		t.Handle = f.uint32()
	}
	if f.has() {
		t.DeliveryID = f.uint32p()
	}
	if f.has() {
		t.DeliveryTag = f.binary()
	}
	if f.has() {
		t.MessageFormat = f.uint32p()
	}
	if f.has() {
		v := f.boolean()
		t.Settled = &v
	}
	if f.has() {
		t.More = f.boolean()
	}
	if f.has() {
		t.RcvSettleMode = f.uint8p()
	}
	if f.has() {
		t.State = f.state()
	}
	if f.has() {
		t.Resume = f.boolean()
	}
	if f.has() {
		t.Aborted = f.boolean()
	}
	if f.has() {
		t.Batchable = f.boolean()
	}
	return t, f.close()
}

func (p *Disposition) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descDisposition, depth)
	w.boolean(bool(p.Role))
	w.uint(p.First)
	w.ptrUint(p.Last)
	w.optBool(p.Settled)
	w.value(p.State)
	w.optBool(p.Batchable)
	return w.finish()
}

func decodeDisposition(d *decoder) (*Disposition, error) {
	p := &Disposition{}
	f := d.openFields("disposition")
	if f.need("role") {
		p.Role = Role(f.boolean())
	}
	if f.need("first") {
		p.First = f.uint32()
	}
	if f.has() {
		p.Last = f.uint32p()
	}
	if f.has() {
		p.Settled = f.boolean()
	}
	if f.has() {
		p.State = f.state()
	}
	if f.has() {
		p.Batchable = f.boolean()
	}
	return p, f.close()
}

func (t *Detach) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descDetach, depth)
	w.uint(t.Handle)
	w.optBool(t.Closed)
	w.value(t.Error)
	return w.finish()
}

func decodeDetach(d *decoder) (*Detach, error) {
	t := &Detach{}
	f := d.openFields("detach")
	if f.need("handle") {
		t.Handle = f.uint32()
	}
	if f.has() {
		t.Closed = f.boolean()
	}
	if f.has() {
		t.Error = f.errorv()
	}
	return t, f.close()
}

// appendErrorOnly encodes End and Close, whose only field is an error.
func appendErrorOnly(b []byte, code uint64, e *Error, depth int) ([]byte, error) {
	w := beginList(b, code, depth)
	w.value(e)
	return w.finish()
}

func decodeErrorOnly(d *decoder, what string) (*Error, error) {
	f := d.openFields(what)
	var e *Error
	if f.has() {
		e = f.errorv()
	}
	return e, f.close()
}

func (e *End) appendTo(b []byte, depth int) ([]byte, error) {
	return appendErrorOnly(b, descEnd, e.Error, depth)
}

func (c *Close) appendTo(b []byte, depth int) ([]byte, error) {
	return appendErrorOnly(b, descClose, c.Error, depth)
}

func decodeEnd(d *decoder) (*End, error) {
	e, err := decodeErrorOnly(d, "end")
	return &End{Error: e}, err
}

func decodeClose(d *decoder) (*Close, error) {
	e, err := decodeErrorOnly(d, "close")
	return &Close{Error: e}, err
}
