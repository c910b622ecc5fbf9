package amqp

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// codeFamily maps a format code to the AMQP type it encodes, so that arrays
// whose element encoding was normalised (uint0 to smalluint, str32 to str8,
// list8 to list32...) still compare equal.
func codeFamily(c TypeCode) TypeCode {
	switch c {
	case TypeCodeUint0, TypeCodeSmallUint:
		return TypeCodeUint
	case TypeCodeUlong0, TypeCodeSmallUlong:
		return TypeCodeUlong
	case TypeCodeSmallint:
		return TypeCodeInt
	case TypeCodeSmalllong:
		return TypeCodeLong
	case TypeCodeBoolTrue, TypeCodeBoolFalse:
		return TypeCodeBool
	case TypeCodeVbin32:
		return TypeCodeVbin8
	case TypeCodeStr32:
		return TypeCodeStr8
	case TypeCodeSym32:
		return TypeCodeSym8
	case TypeCodeList0, TypeCodeList8:
		return TypeCodeList32
	case TypeCodeMap8:
		return TypeCodeMap32
	case TypeCodeArray8:
		return TypeCodeArray32
	}
	return c
}

var (
	arrayType = reflect.TypeFor[Array]()
	timeType  = reflect.TypeFor[time.Time]()
)

// equalAMQP compares two decoded values as AMQP values: floats by bit
// pattern (so NaN equals itself), array element codes by type family, and
// everything else structurally.
func equalAMQP(a, b any) bool {
	return equalValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValue(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch {
	case a.Type() == arrayType:
		x, y := a.Interface().(Array), b.Interface().(Array)
		return codeFamily(x.Code) == codeFamily(y.Code) &&
			equalAMQP(x.Descriptor, y.Descriptor) && equalAMQP(x.Values, y.Values)
	case a.Type() == timeType:
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Map, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return false // no codec value holds these
	}
	return a.Equal(b)
}

func TestEqualAMQP(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	assert.True(t, equalAMQP([]any{nan}, []any{nan}))
	assert.True(t, equalAMQP(NewArray(TypeCodeUint0, uint32(0)), NewArray(TypeCodeSmallUint, uint32(0))))
	assert.False(t, equalAMQP(NewArray(TypeCodeUint, uint32(0)), NewArray(TypeCodeUlong, uint64(0))))
	assert.False(t, equalAMQP(Map{{Key: "a", Value: int32(1)}}, Map{{Key: "a", Value: int64(1)}}))
	assert.False(t, equalAMQP([]byte(nil), []byte{}))
	assert.True(t, equalAMQP(&Source{Address: "a"}, &Source{Address: "a"}))
	assert.False(t, equalAMQP(&Source{Address: "a"}, &Source{Address: "b"}))
	assert.True(t, equalAMQP(nil, nil))
	assert.False(t, equalAMQP(nil, uint32(0)))
}
