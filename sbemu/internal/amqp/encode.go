package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// AppendValue appends the AMQP encoding of v to b. Supported Go types: nil,
// bool, uint8/16/32/64, int8/16/32/64, float32/64, Decimal32/64/128, Char,
// time.Time (timestamp), UUID, []byte (binary), string, Symbol, []any (list),
// Map, Array, Described, []Symbol (array of symbols), *Error and the
// delivery states (plus *Source and *Target, which DecodeValue produces).
// Anything else is an error. The most compact encoding that fits is chosen.
func AppendValue(b []byte, v any) ([]byte, error) {
	return appendValue(b, v, 0)
}

var errTooDeep = errors.New("amqp: value nested deeper than MaxDepth")

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, byte(TypeCodeNull)), nil
	case bool:
		return appendBool(b, v), nil
	case uint8:
		return append(b, byte(TypeCodeUbyte), v), nil
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, byte(TypeCodeUshort)), v), nil
	case uint32:
		return appendUint(b, v), nil
	case uint64:
		return appendUlong(b, v), nil
	case int8:
		return append(b, byte(TypeCodeByte), byte(v)), nil
	case int16:
		return binary.BigEndian.AppendUint16(append(b, byte(TypeCodeShort)), uint16(v)), nil
	case int32:
		return appendInt(b, v), nil
	case int64:
		return appendLong(b, v), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(b, byte(TypeCodeFloat)), math.Float32bits(v)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, byte(TypeCodeDouble)), math.Float64bits(v)), nil
	case Decimal32:
		return append(append(b, byte(TypeCodeDecimal32)), v[:]...), nil
	case Decimal64:
		return append(append(b, byte(TypeCodeDecimal64)), v[:]...), nil
	case Decimal128:
		return append(append(b, byte(TypeCodeDecimal128)), v[:]...), nil
	case Char:
		return binary.BigEndian.AppendUint32(append(b, byte(TypeCodeChar)), uint32(v)), nil
	case time.Time:
		return appendTimestamp(b, v), nil
	case UUID:
		return append(append(b, byte(TypeCodeUUID)), v[:]...), nil
	case []byte:
		return appendBinary(b, v), nil
	case string:
		return appendString(b, v), nil
	case Symbol:
		return appendSymbol(b, v), nil
	case []Symbol:
		return appendSymbolArray(b, v), nil
	case []any:
		return appendList(b, v, depth)
	case Map:
		return appendMap(b, v, depth)
	case Array:
		return appendArray(b, v, depth)
	case Described:
		return appendDescribed(b, v, depth)
	case *Error:
		if v == nil {
			return append(b, byte(TypeCodeNull)), nil
		}
		return v.appendTo(b, depth)
	case *Source:
		if v == nil {
			return append(b, byte(TypeCodeNull)), nil
		}
		return v.appendTo(b, depth)
	case *Target:
		if v == nil {
			return append(b, byte(TypeCodeNull)), nil
		}
		return v.appendTo(b, depth)
	case DeliveryState:
		return appendDeliveryState(b, v, depth)
	}
	return b, fmt.Errorf("amqp: cannot encode Go type %T", v)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, byte(TypeCodeBoolTrue))
	}
	return append(b, byte(TypeCodeBoolFalse))
}

func appendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, byte(TypeCodeUint0))
	case v <= math.MaxUint8:
		return append(b, byte(TypeCodeSmallUint), byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, byte(TypeCodeUint)), v)
}

func appendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, byte(TypeCodeUlong0))
	case v <= math.MaxUint8:
		return append(b, byte(TypeCodeSmallUlong), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, byte(TypeCodeUlong)), v)
}

func appendInt(b []byte, v int32) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, byte(TypeCodeSmallint), byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, byte(TypeCodeInt)), uint32(v))
}

func appendLong(b []byte, v int64) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, byte(TypeCodeSmalllong), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, byte(TypeCodeLong)), uint64(v))
}

func appendTimestamp(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(append(b, byte(TypeCodeTimestamp)), uint64(t.UnixMilli()))
}

// appendVariable appends a variable-width value with the 8-bit code when it
// fits and the 32-bit code otherwise.
func appendVariable[T ~string | ~[]byte](b []byte, code8, code32 TypeCode, v T) []byte {
	if len(v) <= math.MaxUint8 {
		b = append(b, byte(code8), byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, byte(code32)), uint32(len(v)))
	}
	return append(b, v...)
}

func appendBinary(b []byte, v []byte) []byte {
	return appendVariable(b, TypeCodeVbin8, TypeCodeVbin32, v)
}

func appendString(b []byte, v string) []byte {
	return appendVariable(b, TypeCodeStr8, TypeCodeStr32, v)
}

func appendSymbol(b []byte, v Symbol) []byte {
	return appendVariable(b, TypeCodeSym8, TypeCodeSym32, v)
}

// compound helps encode lists, maps and arrays: it reserves a 32-bit header
// and, when done, shrinks it to the 8-bit form if size and count fit.
type compound struct {
	start int // offset of the format code
}

// beginCompound reserves the 32-bit header: code, size and count.
func beginCompound(b []byte, code32 TypeCode) ([]byte, compound) {
	c := compound{start: len(b)}
	return append(b, byte(code32), 0, 0, 0, 0, 0, 0, 0, 0), c
}

// finish fills in the header for count elements and, when size and count
// both fit in one byte, rewrites it into the 8-bit form.
func (c compound) finish(b []byte, code8 TypeCode, count int) ([]byte, error) {
	body := len(b) - (c.start + 9) // element bytes
	if uint64(body)+4 > math.MaxUint32 || uint64(count) > math.MaxUint32 {
		return b, errors.New("amqp: compound value too large")
	}
	if body+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		b[c.start] = byte(code8)
		b[c.start+1] = byte(body + 1)
		b[c.start+2] = byte(count)
		copy(b[c.start+3:], b[c.start+9:])
		return b[:len(b)-6], nil
	}
	binary.BigEndian.PutUint32(b[c.start+1:], uint32(body+4))
	binary.BigEndian.PutUint32(b[c.start+5:], uint32(count))
	return b, nil
}

func appendList(b []byte, v []any, depth int) ([]byte, error) {
	if len(v) == 0 {
		return append(b, byte(TypeCodeList0)), nil
	}
	if depth >= MaxDepth {
		return b, errTooDeep
	}
	b, c := beginCompound(b, TypeCodeList32)
	var err error
	for _, e := range v {
		if b, err = appendValue(b, e, depth+1); err != nil {
			return b, err
		}
	}
	return c.finish(b, TypeCodeList8, len(v))
}

func appendMap(b []byte, m Map, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return b, errTooDeep
	}
	b, c := beginCompound(b, TypeCodeMap32)
	var err error
	for _, p := range m {
		if b, err = appendValue(b, p.Key, depth+1); err != nil {
			return b, err
		}
		if b, err = appendValue(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	return c.finish(b, TypeCodeMap8, 2*len(m))
}

func appendSymbolArray(b []byte, v []Symbol) []byte {
	code := TypeCodeSym8
	for _, s := range v {
		if len(s) > math.MaxUint8 {
			code = TypeCodeSym32
			break
		}
	}
	b, c := beginCompound(b, TypeCodeArray32)
	b = append(b, byte(code))
	for _, s := range v {
		if code == TypeCodeSym8 {
			b = append(b, byte(len(s)))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		}
		b = append(b, s...)
	}
	b, _ = c.finish(b, TypeCodeArray8, len(v)) // symbols cannot overflow a 32-bit size in practice
	return b
}

func appendDescribed(b []byte, d Described, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return b, errTooDeep
	}
	b = append(b, byte(TypeCodeDescribed))
	var err error
	if b, err = appendValue(b, d.Descriptor, depth+1); err != nil {
		return b, err
	}
	return appendValue(b, d.Value, depth+1)
}
