package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// This file holds the helpers that encode and decode the fields of the
// described-list types (performatives, SASL bodies, error, delivery states,
// terminus, message header and properties).

// listWriter encodes a described list field by field. Absent fields are
// written as null; trailing nulls are trimmed when the list is finished.
type listWriter struct {
	b       []byte
	c       compound
	n       int // fields written
	keepLen int // len(b) just after the last present field
	keepN   int // fields up to and including the last present field
	depth   int // depth of the field values
	err     error
}

// beginList starts the described list with the given descriptor code for a
// value at depth.
func beginList(b []byte, code uint64, depth int) listWriter {
	w := listWriter{depth: depth + 2}
	if depth+1 >= MaxDepth {
		w.err = errTooDeep
	}
	b = append(b, byte(TypeCodeDescribed), byte(TypeCodeSmallUlong), byte(code))
	w.b, w.c = beginCompound(b, TypeCodeList32)
	w.keepLen = len(w.b)
	return w
}

func (w *listWriter) present() {
	w.n++
	w.keepLen, w.keepN = len(w.b), w.n
}

func (w *listWriter) null() {
	w.b = append(w.b, byte(TypeCodeNull))
	w.n++
}

func (w *listWriter) boolean(v bool) { w.b = appendBool(w.b, v); w.present() }
func (w *listWriter) ubyte(v uint8)  { w.b = append(w.b, byte(TypeCodeUbyte), v); w.present() }
func (w *listWriter) ushort(v uint16) {
	w.b = binary.BigEndian.AppendUint16(append(w.b, byte(TypeCodeUshort)), v)
	w.present()
}
func (w *listWriter) uint(v uint32)   { w.b = appendUint(w.b, v); w.present() }
func (w *listWriter) ulong(v uint64)  { w.b = appendUlong(w.b, v); w.present() }
func (w *listWriter) str(v string)    { w.b = appendString(w.b, v); w.present() }
func (w *listWriter) sym(v Symbol)    { w.b = appendSymbol(w.b, v); w.present() }
func (w *listWriter) binary(v []byte) { w.b = appendBinary(w.b, v); w.present() }

// optBool writes v, or null when false (the default of every boolean field).
func (w *listWriter) optBool(v bool) {
	if v {
		w.boolean(true)
	} else {
		w.null()
	}
}

// optUint writes v, or null when 0.
func (w *listWriter) optUint(v uint32) {
	if v != 0 {
		w.uint(v)
	} else {
		w.null()
	}
}

func (w *listWriter) ptrUint(v *uint32) {
	if v != nil {
		w.uint(*v)
	} else {
		w.null()
	}
}

func (w *listWriter) ptrUbyte(v *uint8) {
	if v != nil {
		w.ubyte(*v)
	} else {
		w.null()
	}
}

func (w *listWriter) optStr(v string) {
	if v != "" {
		w.str(v)
	} else {
		w.null()
	}
}

func (w *listWriter) optSym(v Symbol) {
	if v != "" {
		w.sym(v)
	} else {
		w.null()
	}
}

// optBinary writes v, or null when v is nil (an empty non-nil slice is present).
func (w *listWriter) optBinary(v []byte) {
	if v != nil {
		w.binary(v)
	} else {
		w.null()
	}
}

func (w *listWriter) symbols(v []Symbol) {
	if v != nil {
		w.b = appendSymbolArray(w.b, v)
		w.present()
	} else {
		w.null()
	}
}

func (w *listWriter) timestamp(v time.Time) {
	if !v.IsZero() {
		w.b = appendTimestamp(w.b, v)
		w.present()
	} else {
		w.null()
	}
}

// value writes any encodable value; nil is absent.
func (w *listWriter) value(v any) {
	if w.err != nil {
		return
	}
	if isNil(v) {
		w.null()
		return
	}
	w.b, w.err = appendValue(w.b, v, w.depth)
	w.present()
}

// mapv writes m, or null when m is nil.
func (w *listWriter) mapv(m Map) {
	if m == nil {
		w.null()
		return
	}
	w.value(m)
}

// isNil reports whether v is nil or a nil pointer of one of the codec's struct types.
func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *Error:
		return x == nil
	case *Source:
		return x == nil
	case *Target:
		return x == nil
	case *Received:
		return x == nil
	case *Accepted:
		return x == nil
	case *Rejected:
		return x == nil
	case *Released:
		return x == nil
	case *Modified:
		return x == nil
	}
	return false
}

// finish trims trailing absent fields and completes the list header.
func (w *listWriter) finish() ([]byte, error) {
	if w.err != nil {
		return w.b, w.err
	}
	b := w.b[:w.keepLen]
	if w.keepN == 0 { // empty list: list0 replaces the reserved 32-bit header
		b = append(b[:w.c.start], byte(TypeCodeList0))
		return b, nil
	}
	return w.c.finish(b, TypeCodeList8, w.keepN)
}

// fields decodes the fields of a described list one by one. The first
// error sticks: later reads return zero values.
type fields struct {
	d    decoder // bounded to the list content
	n    int     // fields not yet read
	err  error
	what string
}

// openFields reads the list header of a described list type named what.
func (d *decoder) openFields(what string) fields {
	f := fields{what: what}
	c, err := d.byte()
	if err != nil {
		f.err = err
		return f
	}
	switch TypeCode(c) {
	case TypeCodeList0:
		if d.depth >= MaxDepth {
			f.err = errTooDeep
			return f
		}
		f.d = decoder{b: d.b[:d.off], off: d.off, depth: d.depth + 1}
		return f
	case TypeCodeList8, TypeCodeList32:
		f.d, f.n, f.err = d.compoundHeader(TypeCode(c))
		return f
	}
	f.err = fmt.Errorf("amqp: %s: expected a list, got format code %#02x", what, c)
	return f
}

// close skips fields beyond the known ones and reports the first error.
func (f *fields) close() error {
	for f.err == nil && f.n > 0 {
		f.n--
		_, f.err = f.d.value()
	}
	if f.err == nil {
		f.err = f.d.done()
	}
	if f.err != nil && !errors.Is(f.err, ErrTruncated) && !errors.Is(f.err, errTooDeep) {
		return fmt.Errorf("amqp: %s: %w", f.what, f.err)
	}
	return f.err
}

func (f *fields) fail(err error) {
	if f.err == nil && err != nil {
		f.err = err
	}
}

// has consumes one field slot and reports whether it holds a non-null value
// (which the caller then reads).
func (f *fields) has() bool {
	if f.err != nil || f.n == 0 {
		return false
	}
	f.n--
	c, err := f.d.peek()
	if err != nil {
		f.err = err
		return false
	}
	if TypeCode(c) == TypeCodeNull {
		f.d.off++
		return false
	}
	return true
}

// need is has for a mandatory field.
func (f *fields) need(name string) bool {
	if f.has() {
		return true
	}
	f.fail(fmt.Errorf("mandatory field %s missing", name))
	return false
}

func (f *fields) uint(limit uint64) uint64 {
	v, err := f.d.unsigned(limit)
	f.fail(err)
	return v
}

func (f *fields) uint32() uint32 { return uint32(f.uint(math.MaxUint32)) }
func (f *fields) uint16() uint16 { return uint16(f.uint(math.MaxUint16)) }
func (f *fields) uint8() uint8   { return uint8(f.uint(math.MaxUint8)) }
func (f *fields) uint64() uint64 { return f.uint(math.MaxUint64) }

func (f *fields) uint32p() *uint32 {
	v := f.uint32()
	return &v
}

func (f *fields) uint8p() *uint8 {
	v := f.uint8()
	return &v
}

func (f *fields) boolean() bool {
	v, err := f.d.boolean()
	f.fail(err)
	return v
}

func (f *fields) str() string {
	p, err := f.d.text()
	f.fail(err)
	return string(p)
}

func (f *fields) sym() Symbol {
	p, err := f.d.text()
	f.fail(err)
	return Symbol(p)
}

func (f *fields) binary() []byte {
	p, err := f.d.binary()
	f.fail(err)
	return p
}

func (f *fields) symbols() []Symbol {
	v, err := f.d.symbols()
	f.fail(err)
	return v
}

func (f *fields) mapv() Map {
	v, err := f.d.mapValue()
	f.fail(err)
	return v
}

func (f *fields) timestamp() time.Time {
	c, err := f.d.byte()
	if err != nil {
		f.fail(err)
		return time.Time{}
	}
	if TypeCode(c) != TypeCodeTimestamp {
		f.fail(fmt.Errorf("expected a timestamp, got format code %#02x", c))
		return time.Time{}
	}
	x, err := f.d.u64()
	f.fail(err)
	return time.UnixMilli(int64(x)).UTC()
}

func (f *fields) value() any {
	v, err := f.d.value()
	f.fail(err)
	return v
}

func (f *fields) errorv() *Error {
	v, err := f.d.errorValue()
	f.fail(err)
	return v
}

func (f *fields) state() DeliveryState {
	v, err := f.d.value()
	if err != nil {
		f.fail(err)
		return nil
	}
	s, ok := v.(DeliveryState)
	if !ok {
		f.fail(fmt.Errorf("expected a delivery state, got %T", v))
	}
	return s
}

// unsigned reads any unsigned integer encoding whose value is at most limit.
func (d *decoder) unsigned(limit uint64) (uint64, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	switch TypeCode(c) {
	case TypeCodeUint0, TypeCodeUlong0:
	case TypeCodeUbyte, TypeCodeSmallUint, TypeCodeSmallUlong:
		x, err := d.byte()
		if err != nil {
			return 0, err
		}
		v = uint64(x)
	case TypeCodeUshort:
		x, err := d.u16()
		if err != nil {
			return 0, err
		}
		v = uint64(x)
	case TypeCodeUint:
		x, err := d.u32()
		if err != nil {
			return 0, err
		}
		v = uint64(x)
	case TypeCodeUlong:
		if v, err = d.u64(); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("expected an unsigned integer, got format code %#02x", c)
	}
	if v > limit {
		return 0, fmt.Errorf("unsigned integer %d out of range", v)
	}
	return v, nil
}

func (d *decoder) boolean() (bool, error) {
	c, err := d.byte()
	if err != nil {
		return false, err
	}
	switch TypeCode(c) {
	case TypeCodeBoolTrue:
		return true, nil
	case TypeCodeBoolFalse:
		return false, nil
	case TypeCodeBool:
		v, err := d.body(TypeCodeBool)
		if err != nil {
			return false, err
		}
		return v.(bool), nil
	}
	return false, fmt.Errorf("expected a boolean, got format code %#02x", c)
}

// text reads a string or symbol, without copying.
func (d *decoder) text() ([]byte, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch TypeCode(c) {
	case TypeCodeStr8, TypeCodeStr32, TypeCodeSym8, TypeCodeSym32:
		return d.variable(TypeCode(c))
	}
	return nil, fmt.Errorf("expected a string or symbol, got format code %#02x", c)
}

// binary reads a binary value and returns a copy (never nil).
func (d *decoder) binary() ([]byte, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch TypeCode(c) {
	case TypeCodeVbin8, TypeCodeVbin32:
		p, err := d.variable(TypeCode(c))
		if err != nil {
			return nil, err
		}
		return append([]byte{}, p...), nil
	}
	return nil, fmt.Errorf("expected binary, got format code %#02x", c)
}

// symbols reads a multiple symbol field: one symbol or an array of symbols.
func (d *decoder) symbols() ([]Symbol, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch TypeCode(c) {
	case TypeCodeSym8, TypeCodeSym32:
		p, err := d.text()
		if err != nil {
			return nil, err
		}
		return []Symbol{Symbol(p)}, nil
	case TypeCodeArray8, TypeCodeArray32:
		d.off++
		a, err := d.array(TypeCode(c))
		if err != nil {
			return nil, err
		}
		if a.Descriptor != nil || (a.Code != TypeCodeSym8 && a.Code != TypeCodeSym32) {
			return nil, fmt.Errorf("expected an array of symbols, got element code %#02x", byte(a.Code))
		}
		out := make([]Symbol, len(a.Values))
		for i, v := range a.Values {
			out[i] = v.(Symbol)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected symbols, got format code %#02x", c)
}

func (d *decoder) mapValue() (Map, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch TypeCode(c) {
	case TypeCodeMap8, TypeCodeMap32:
		return d.mapBody(TypeCode(c))
	}
	return nil, fmt.Errorf("expected a map, got format code %#02x", c)
}

// descriptor reads the 0x00 code and a ulong or symbolic descriptor, and
// enters the described value's depth. The caller must call leave.
func (d *decoder) descriptor() (uint64, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	if TypeCode(c) != TypeCodeDescribed {
		return 0, fmt.Errorf("expected a described type, got format code %#02x", c)
	}
	if err := d.enter(); err != nil {
		return 0, err
	}
	c, err = d.peek()
	if err != nil {
		return 0, err
	}
	switch TypeCode(c) {
	case TypeCodeSym8, TypeCodeSym32:
		p, err := d.text()
		if err != nil {
			return 0, err
		}
		code, ok := symbolicDescriptors[Symbol(p)]
		if !ok {
			return 0, fmt.Errorf("unknown descriptor %q", p)
		}
		return code, nil
	}
	return d.unsigned(math.MaxUint64)
}

// errorValue reads an error field: null or an amqp:error:list.
func (d *decoder) errorValue() (*Error, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if TypeCode(c) == TypeCodeNull {
		d.off++
		return nil, nil
	}
	code, err := d.descriptor()
	if err != nil {
		return nil, err
	}
	defer d.leave()
	if code != descError {
		return nil, fmt.Errorf("expected an error, got descriptor %#x", code)
	}
	return decodeError(d)
}
