package amqp

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// appendArray encodes an Array. The element code is normalised so the
// result always decodes: zero-width element codes become their one-byte
// forms, one-byte and 8-bit-size codes widen when an element does not fit,
// and compound elements use their 32-bit forms.
func appendArray(b []byte, a Array, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return b, errTooDeep
	}
	b, c := beginCompound(b, TypeCodeArray32)
	b, err := appendArrayContent(b, a, depth)
	if err != nil {
		return b, err
	}
	return c.finish(b, TypeCodeArray8, len(a.Values))
}

// appendArrayContent appends the element constructor (with the descriptor
// when there is one) and the elements without their constructors.
func appendArrayContent(b []byte, a Array, depth int) ([]byte, error) {
	code, err := arrayElementCode(a)
	if err != nil {
		return b, err
	}
	if a.Descriptor != nil {
		b = append(b, byte(TypeCodeDescribed))
		if b, err = appendValue(b, a.Descriptor, depth+1); err != nil {
			return b, err
		}
	}
	b = append(b, byte(code))
	for _, v := range a.Values {
		if b, err = appendElement(b, code, v, depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

// arrayElementCode picks the constructor actually written for a's elements.
func arrayElementCode(a Array) (TypeCode, error) {
	switch a.Code {
	case TypeCodeNull, TypeCodeDescribed:
		return 0, fmt.Errorf("amqp: array element code %#02x not supported", byte(a.Code))
	case TypeCodeBool, TypeCodeBoolTrue, TypeCodeBoolFalse:
		return TypeCodeBool, nil
	case TypeCodeUint0, TypeCodeSmallUint:
		return widenIf(a.Values, TypeCodeSmallUint, TypeCodeUint, func(v any) bool {
			u, ok := v.(uint32)
			return !ok || u <= math.MaxUint8
		}), nil
	case TypeCodeUlong0, TypeCodeSmallUlong:
		return widenIf(a.Values, TypeCodeSmallUlong, TypeCodeUlong, func(v any) bool {
			u, ok := v.(uint64)
			return !ok || u <= math.MaxUint8
		}), nil
	case TypeCodeSmallint:
		return widenIf(a.Values, TypeCodeSmallint, TypeCodeInt, func(v any) bool {
			i, ok := v.(int32)
			return !ok || (i >= math.MinInt8 && i <= math.MaxInt8)
		}), nil
	case TypeCodeSmalllong:
		return widenIf(a.Values, TypeCodeSmalllong, TypeCodeLong, func(v any) bool {
			i, ok := v.(int64)
			return !ok || (i >= math.MinInt8 && i <= math.MaxInt8)
		}), nil
	case TypeCodeVbin8, TypeCodeVbin32:
		return widenIf(a.Values, TypeCodeVbin8, TypeCodeVbin32, func(v any) bool {
			p, ok := v.([]byte)
			return !ok || len(p) <= math.MaxUint8
		}), nil
	case TypeCodeStr8, TypeCodeStr32:
		return widenIf(a.Values, TypeCodeStr8, TypeCodeStr32, func(v any) bool {
			s, ok := v.(string)
			return !ok || len(s) <= math.MaxUint8
		}), nil
	case TypeCodeSym8, TypeCodeSym32:
		return widenIf(a.Values, TypeCodeSym8, TypeCodeSym32, func(v any) bool {
			s, ok := v.(Symbol)
			return !ok || len(s) <= math.MaxUint8
		}), nil
	case TypeCodeList0, TypeCodeList8, TypeCodeList32:
		return TypeCodeList32, nil
	case TypeCodeMap8, TypeCodeMap32:
		return TypeCodeMap32, nil
	case TypeCodeArray8, TypeCodeArray32:
		return TypeCodeArray32, nil
	case TypeCodeUbyte, TypeCodeUshort, TypeCodeUint, TypeCodeUlong,
		TypeCodeByte, TypeCodeShort, TypeCodeInt, TypeCodeLong,
		TypeCodeFloat, TypeCodeDouble, TypeCodeDecimal32, TypeCodeDecimal64,
		TypeCodeDecimal128, TypeCodeChar, TypeCodeTimestamp, TypeCodeUUID:
		return a.Code, nil
	}
	return 0, fmt.Errorf("amqp: unknown array element code %#02x", byte(a.Code))
}

func widenIf(values []any, narrow, wide TypeCode, fits func(any) bool) TypeCode {
	for _, v := range values {
		if !fits(v) {
			return wide
		}
	}
	return narrow
}

func elementTypeError(code TypeCode, v any) error {
	return fmt.Errorf("amqp: array element of Go type %T does not match element code %#02x", v, byte(code))
}

// appendElement appends one array element of the given code, without its constructor.
func appendElement(b []byte, code TypeCode, v any, depth int) ([]byte, error) {
	switch code {
	case TypeCodeBool:
		if x, ok := v.(bool); ok {
			if x {
				return append(b, 1), nil
			}
			return append(b, 0), nil
		}
	case TypeCodeUbyte:
		if x, ok := v.(uint8); ok {
			return append(b, x), nil
		}
	case TypeCodeUshort:
		if x, ok := v.(uint16); ok {
			return binary.BigEndian.AppendUint16(b, x), nil
		}
	case TypeCodeSmallUint:
		if x, ok := v.(uint32); ok {
			return append(b, byte(x)), nil
		}
	case TypeCodeUint:
		if x, ok := v.(uint32); ok {
			return binary.BigEndian.AppendUint32(b, x), nil
		}
	case TypeCodeSmallUlong:
		if x, ok := v.(uint64); ok {
			return append(b, byte(x)), nil
		}
	case TypeCodeUlong:
		if x, ok := v.(uint64); ok {
			return binary.BigEndian.AppendUint64(b, x), nil
		}
	case TypeCodeByte:
		if x, ok := v.(int8); ok {
			return append(b, byte(x)), nil
		}
	case TypeCodeShort:
		if x, ok := v.(int16); ok {
			return binary.BigEndian.AppendUint16(b, uint16(x)), nil
		}
	case TypeCodeSmallint:
		if x, ok := v.(int32); ok {
			return append(b, byte(int8(x))), nil
		}
	case TypeCodeInt:
		if x, ok := v.(int32); ok {
			return binary.BigEndian.AppendUint32(b, uint32(x)), nil
		}
	case TypeCodeSmalllong:
		if x, ok := v.(int64); ok {
			return append(b, byte(int8(x))), nil
		}
	case TypeCodeLong:
		if x, ok := v.(int64); ok {
			return binary.BigEndian.AppendUint64(b, uint64(x)), nil
		}
	case TypeCodeFloat:
		if x, ok := v.(float32); ok {
			return binary.BigEndian.AppendUint32(b, math.Float32bits(x)), nil
		}
	case TypeCodeDouble:
		if x, ok := v.(float64); ok {
			return binary.BigEndian.AppendUint64(b, math.Float64bits(x)), nil
		}
	case TypeCodeDecimal32:
		if x, ok := v.(Decimal32); ok {
			return append(b, x[:]...), nil
		}
	case TypeCodeDecimal64:
		if x, ok := v.(Decimal64); ok {
			return append(b, x[:]...), nil
		}
	case TypeCodeDecimal128:
		if x, ok := v.(Decimal128); ok {
			return append(b, x[:]...), nil
		}
	case TypeCodeChar:
		if x, ok := v.(Char); ok {
			return binary.BigEndian.AppendUint32(b, uint32(x)), nil
		}
	case TypeCodeTimestamp:
		if x, ok := v.(time.Time); ok {
			return binary.BigEndian.AppendUint64(b, uint64(x.UnixMilli())), nil
		}
	case TypeCodeUUID:
		if x, ok := v.(UUID); ok {
			return append(b, x[:]...), nil
		}
	case TypeCodeVbin8, TypeCodeStr8, TypeCodeSym8:
		if s, ok := variableBytes(code, v); ok {
			return append(append(b, byte(len(s))), s...), nil
		}
	case TypeCodeVbin32, TypeCodeStr32, TypeCodeSym32:
		if s, ok := variableBytes(code, v); ok {
			return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...), nil
		}
	case TypeCodeList32:
		if x, ok := v.([]any); ok {
			return appendCompoundElement(b, len(x), depth, func(b []byte) ([]byte, error) {
				var err error
				for _, e := range x {
					if b, err = appendValue(b, e, depth+2); err != nil {
						return b, err
					}
				}
				return b, nil
			})
		}
	case TypeCodeMap32:
		if x, ok := v.(Map); ok {
			return appendCompoundElement(b, 2*len(x), depth, func(b []byte) ([]byte, error) {
				var err error
				for _, p := range x {
					if b, err = appendValue(b, p.Key, depth+2); err != nil {
						return b, err
					}
					if b, err = appendValue(b, p.Value, depth+2); err != nil {
						return b, err
					}
				}
				return b, nil
			})
		}
	case TypeCodeArray32:
		if x, ok := v.(Array); ok {
			return appendCompoundElement(b, len(x.Values), depth, func(b []byte) ([]byte, error) {
				return appendArrayContent(b, x, depth+1)
			})
		}
	}
	return b, elementTypeError(code, v)
}

// variableBytes returns the bytes of a binary, string or symbol element
// when v has the Go type matching code.
func variableBytes(code TypeCode, v any) (string, bool) {
	switch code {
	case TypeCodeVbin8, TypeCodeVbin32:
		if p, ok := v.([]byte); ok {
			return string(p), true
		}
	case TypeCodeStr8, TypeCodeStr32:
		if s, ok := v.(string); ok {
			return s, true
		}
	case TypeCodeSym8, TypeCodeSym32:
		if s, ok := v.(Symbol); ok {
			return string(s), true
		}
	}
	return "", false
}

// appendCompoundElement writes a 32-bit size and count followed by the
// content fill appends.
func appendCompoundElement(b []byte, count, depth int, fill func([]byte) ([]byte, error)) ([]byte, error) {
	if depth+1 >= MaxDepth {
		return b, errTooDeep
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b, err := fill(b)
	if err != nil {
		return b, err
	}
	size := len(b) - start - 4
	if uint64(size) > math.MaxUint32 || uint64(count) > math.MaxUint32 {
		return b, fmt.Errorf("amqp: compound array element too large")
	}
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	binary.BigEndian.PutUint32(b[start+4:], uint32(count))
	return b, nil
}
