package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Decoding errors that callers may want to tell apart.
var (
	// ErrTruncated reports input that ends inside a value.
	ErrTruncated = errors.New("amqp: truncated input")
	// ErrTooDeep reports nesting beyond MaxDepth.
	ErrTooDeep = errTooDeep
)

// DecodeValue decodes one value from the front of b and returns it with the
// number of bytes consumed. Described values with a known descriptor (error,
// delivery states, source, target) decode to their structs; others to
// Described. Declared sizes and counts are checked against len(b) before any
// allocation; nesting deeper than MaxDepth is an error.
func DecodeValue(b []byte) (v any, n int, err error) {
	d := decoder{b: b}
	v, err = d.value()
	if err != nil {
		return nil, 0, wrapError("value", err)
	}
	return v, d.off, nil
}

// decoder reads AMQP values from b starting at off. depth counts the
// compound values (list, map, array, described) enclosing the position.
type decoder struct {
	b     []byte
	off   int
	depth int
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, ErrTruncated
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) peek() (byte, error) {
	if d.off >= len(d.b) {
		return 0, ErrTruncated
	}
	return d.b[d.off], nil
}

// next returns the next n bytes without copying.
func (d *decoder) next(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, ErrTruncated
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) u16() (uint16, error) {
	p, err := d.next(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(p), nil
}

func (d *decoder) u32() (uint32, error) {
	p, err := d.next(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (d *decoder) u64() (uint64, error) {
	p, err := d.next(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(p), nil
}

// enter checks and increments the nesting depth for a compound value.
func (d *decoder) enter() error {
	if d.depth >= MaxDepth {
		return errTooDeep
	}
	d.depth++
	return nil
}

func (d *decoder) leave() { d.depth-- }

// value decodes one value with its constructor.
func (d *decoder) value() (any, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	if TypeCode(c) == TypeCodeDescribed {
		return d.described()
	}
	return d.body(TypeCode(c))
}

// described decodes the rest of a described value after its 0x00 code.
func (d *decoder) described() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	desc, err := d.value()
	if err != nil {
		return nil, err
	}
	if code, ok := descriptorCode(desc); ok {
		switch code {
		case descError:
			return decodeError(d)
		case descReceived, descAccepted, descRejected, descReleased, descModified:
			return decodeDeliveryState(d, code)
		case descSource:
			return decodeSource(d)
		case descTarget:
			return decodeTarget(d)
		}
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return Described{Descriptor: desc, Value: v}, nil
}

// fixedWidth is the encoded width of a value of each fixed-width code; -1
// marks variable-width and compound codes, -2 unknown codes.
func fixedWidth(c TypeCode) int {
	switch c {
	case TypeCodeNull, TypeCodeBoolTrue, TypeCodeBoolFalse, TypeCodeUint0, TypeCodeUlong0, TypeCodeList0:
		return 0
	case TypeCodeBool, TypeCodeUbyte, TypeCodeByte, TypeCodeSmallUint, TypeCodeSmallUlong, TypeCodeSmallint, TypeCodeSmalllong:
		return 1
	case TypeCodeUshort, TypeCodeShort:
		return 2
	case TypeCodeUint, TypeCodeInt, TypeCodeFloat, TypeCodeDecimal32, TypeCodeChar:
		return 4
	case TypeCodeUlong, TypeCodeLong, TypeCodeDouble, TypeCodeDecimal64, TypeCodeTimestamp:
		return 8
	case TypeCodeDecimal128, TypeCodeUUID:
		return 16
	case TypeCodeVbin8, TypeCodeStr8, TypeCodeSym8, TypeCodeVbin32, TypeCodeStr32, TypeCodeSym32,
		TypeCodeList8, TypeCodeList32, TypeCodeMap8, TypeCodeMap32, TypeCodeArray8, TypeCodeArray32:
		return -1
	}
	return -2
}

// minWidth is the fewest bytes an element of code occupies in an array.
func minWidth(c TypeCode) int {
	switch c {
	case TypeCodeVbin8, TypeCodeStr8, TypeCodeSym8:
		return 1
	case TypeCodeVbin32, TypeCodeStr32, TypeCodeSym32:
		return 4
	case TypeCodeList8, TypeCodeMap8, TypeCodeArray8:
		return 2
	case TypeCodeList32, TypeCodeMap32, TypeCodeArray32:
		return 8
	}
	return fixedWidth(c)
}

func unknownCode(c TypeCode) error {
	return fmt.Errorf("amqp: unknown format code %#02x", byte(c))
}

// body decodes the value that follows the constructor c.
func (d *decoder) body(c TypeCode) (any, error) {
	switch c {
	case TypeCodeNull:
		return nil, nil
	case TypeCodeBoolTrue:
		return true, nil
	case TypeCodeBoolFalse:
		return false, nil
	case TypeCodeBool:
		x, err := d.byte()
		if err != nil {
			return nil, err
		}
		switch x {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return nil, fmt.Errorf("amqp: invalid boolean byte %#02x", x)
	case TypeCodeUbyte:
		x, err := d.byte()
		return x, err
	case TypeCodeUshort:
		x, err := d.u16()
		return x, err
	case TypeCodeUint:
		x, err := d.u32()
		return x, err
	case TypeCodeSmallUint:
		x, err := d.byte()
		return uint32(x), err
	case TypeCodeUint0:
		return uint32(0), nil
	case TypeCodeUlong:
		x, err := d.u64()
		return x, err
	case TypeCodeSmallUlong:
		x, err := d.byte()
		return uint64(x), err
	case TypeCodeUlong0:
		return uint64(0), nil
	case TypeCodeByte:
		x, err := d.byte()
		return int8(x), err
	case TypeCodeShort:
		x, err := d.u16()
		return int16(x), err
	case TypeCodeInt:
		x, err := d.u32()
		return int32(x), err
	case TypeCodeSmallint:
		x, err := d.byte()
		return int32(int8(x)), err
	case TypeCodeLong:
		x, err := d.u64()
		return int64(x), err
	case TypeCodeSmalllong:
		x, err := d.byte()
		return int64(int8(x)), err
	case TypeCodeFloat:
		x, err := d.u32()
		return math.Float32frombits(x), err
	case TypeCodeDouble:
		x, err := d.u64()
		return math.Float64frombits(x), err
	case TypeCodeDecimal32:
		var x Decimal32
		p, err := d.next(len(x))
		copy(x[:], p)
		return x, err
	case TypeCodeDecimal64:
		var x Decimal64
		p, err := d.next(len(x))
		copy(x[:], p)
		return x, err
	case TypeCodeDecimal128:
		var x Decimal128
		p, err := d.next(len(x))
		copy(x[:], p)
		return x, err
	case TypeCodeChar:
		x, err := d.u32()
		return Char(x), err
	case TypeCodeTimestamp:
		x, err := d.u64()
		return time.UnixMilli(int64(x)).UTC(), err
	case TypeCodeUUID:
		var x UUID
		p, err := d.next(len(x))
		copy(x[:], p)
		return x, err
	case TypeCodeVbin8, TypeCodeVbin32:
		p, err := d.variable(c)
		if err != nil {
			return nil, err
		}
		return append([]byte{}, p...), nil
	case TypeCodeStr8, TypeCodeStr32:
		p, err := d.variable(c)
		return string(p), err
	case TypeCodeSym8, TypeCodeSym32:
		p, err := d.variable(c)
		return Symbol(p), err
	case TypeCodeList0:
		return []any{}, nil
	case TypeCodeList8, TypeCodeList32:
		return d.list(c)
	case TypeCodeMap8, TypeCodeMap32:
		return d.mapBody(c)
	case TypeCodeArray8, TypeCodeArray32:
		return d.array(c)
	}
	return nil, unknownCode(c)
}

// variable returns the bytes of a binary, string or symbol value, without copying.
func (d *decoder) variable(c TypeCode) ([]byte, error) {
	var n int
	if c&0xf0 == 0xa0 {
		x, err := d.byte()
		if err != nil {
			return nil, err
		}
		n = int(x)
	} else {
		x, err := d.u32()
		if err != nil {
			return nil, err
		}
		if uint64(x) > uint64(d.remaining()) {
			return nil, ErrTruncated
		}
		n = int(x)
	}
	return d.next(n)
}

// compoundHeader reads the size and count of a list, map or array and
// returns a decoder bounded to its content, one level deeper. The count is
// checked against the bytes present: every element takes at least one byte
// (for arrays of zero-width elements, the same bound is applied).
func (d *decoder) compoundHeader(c TypeCode) (sub decoder, count int, err error) {
	if d.depth >= MaxDepth {
		return sub, 0, errTooDeep
	}
	var size, n uint64
	if c&0xf0 != 0xd0 && c&0xf0 != 0xf0 { // 8-bit forms
		s, err := d.byte()
		if err != nil {
			return sub, 0, err
		}
		if s < 1 {
			return sub, 0, errors.New("amqp: compound size smaller than its count")
		}
		if int(s) > d.remaining() {
			return sub, 0, ErrTruncated
		}
		cnt, _ := d.byte()
		size, n = uint64(s)-1, uint64(cnt)
	} else {
		s, err := d.u32()
		if err != nil {
			return sub, 0, err
		}
		if s < 4 {
			return sub, 0, errors.New("amqp: compound size smaller than its count")
		}
		if uint64(s) > uint64(d.remaining()) {
			return sub, 0, ErrTruncated
		}
		cnt, _ := d.u32()
		size, n = uint64(s)-4, uint64(cnt)
	}
	if n > size {
		return sub, 0, fmt.Errorf("amqp: compound count %d exceeds its %d bytes", n, size)
	}
	end := d.off + int(size)
	sub = decoder{b: d.b[:end], off: d.off, depth: d.depth + 1}
	d.off = end
	return sub, int(n), nil
}

// done checks that a bounded sub-decoder consumed exactly its content.
func (d *decoder) done() error {
	if d.off != len(d.b) {
		return errors.New("amqp: compound size does not match its content")
	}
	return nil
}

func (d *decoder) list(c TypeCode) ([]any, error) {
	sub, n, err := d.compoundHeader(c)
	if err != nil {
		return nil, err
	}
	l := make([]any, n)
	for i := range l {
		if l[i], err = sub.value(); err != nil {
			return nil, err
		}
	}
	return l, sub.done()
}

func (d *decoder) mapBody(c TypeCode) (Map, error) {
	sub, n, err := d.compoundHeader(c)
	if err != nil {
		return nil, err
	}
	if n%2 != 0 {
		return nil, errors.New("amqp: map with an odd number of elements")
	}
	m := make(Map, n/2)
	for i := range m {
		if m[i].Key, err = sub.value(); err != nil {
			return nil, err
		}
		if m[i].Value, err = sub.value(); err != nil {
			return nil, err
		}
	}
	return m, sub.done()
}

func (d *decoder) array(c TypeCode) (Array, error) {
	sub, n, err := d.compoundHeader(c)
	if err != nil {
		return Array{}, err
	}
	var a Array
	code, err := sub.byte()
	if err != nil {
		return Array{}, err
	}
	if TypeCode(code) == TypeCodeDescribed {
		if a.Descriptor, err = sub.value(); err != nil {
			return Array{}, err
		}
		if code, err = sub.byte(); err != nil {
			return Array{}, err
		}
	}
	a.Code = TypeCode(code)
	w := minWidth(a.Code)
	switch {
	case a.Code == TypeCodeNull || a.Code == TypeCodeDescribed:
		return Array{}, fmt.Errorf("amqp: array element code %#02x not supported", code)
	case w < 0:
		return Array{}, unknownCode(a.Code)
	case w == 0 && n > sub.remaining():
		return Array{}, fmt.Errorf("amqp: array of %d zero-width elements in %d bytes", n, sub.remaining())
	case w > 0 && n > sub.remaining()/w:
		return Array{}, ErrTruncated
	}
	a.Values = make([]any, n)
	for i := range a.Values {
		if a.Values[i], err = sub.body(a.Code); err != nil {
			return Array{}, err
		}
	}
	return a, sub.done()
}
