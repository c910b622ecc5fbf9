package amqp

import (
	"bytes"
	"encoding/hex"
	"reflect"
)

// Get returns the value stored under key (compared by AMQP type and value;
// []byte keys by content) and whether it was present.
func (m Map) Get(key any) (any, bool) {
	for _, p := range m {
		if keyEqual(p.Key, key) {
			return p.Value, true
		}
	}
	return nil, false
}

// Set replaces the value under key, or appends the pair when key is absent.
func (m *Map) Set(key, value any) {
	for i := range *m {
		if keyEqual((*m)[i].Key, key) {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, Pair{Key: key, Value: value})
}

// Delete removes key if present.
func (m *Map) Delete(key any) {
	for i := range *m {
		if keyEqual((*m)[i].Key, key) {
			*m = append((*m)[:i], (*m)[i+1:]...)
			return
		}
	}
}

// keyEqual compares two map keys by AMQP type and value. It never panics,
// whatever the keys hold.
func keyEqual(a, b any) bool {
	switch av := a.(type) {
	case Symbol:
		bv, ok := b.(Symbol)
		return ok && av == bv
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case uint64:
		bv, ok := b.(uint64)
		return ok && av == bv
	case []byte:
		bv, ok := b.([]byte)
		return ok && bytes.Equal(av, bv)
	}
	return reflect.DeepEqual(a, b)
}

// String formats u as 8-4-4-4-12 lowercase hex.
func (u UUID) String() string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// NewArray returns an array of values sharing the element type code.
func NewArray(code TypeCode, values ...any) Array { return Array{Code: code, Values: values} }

// MaxDepth is the deepest nesting of compound values DecodeValue accepts.
const MaxDepth = 64

// Descriptor codes of the described types the codec knows.
const (
	descOpen        uint64 = 0x10
	descBegin       uint64 = 0x11
	descAttach      uint64 = 0x12
	descFlow        uint64 = 0x13
	descTransfer    uint64 = 0x14
	descDisposition uint64 = 0x15
	descDetach      uint64 = 0x16
	descEnd         uint64 = 0x17
	descClose       uint64 = 0x18
	descError       uint64 = 0x1d
	descReceived    uint64 = 0x23
	descAccepted    uint64 = 0x24
	descRejected    uint64 = 0x25
	descReleased    uint64 = 0x26
	descModified    uint64 = 0x27
	descSource      uint64 = 0x28
	descTarget      uint64 = 0x29

	descSASLMechanisms uint64 = 0x40
	descSASLInit       uint64 = 0x41
	descSASLChallenge  uint64 = 0x42
	descSASLResponse   uint64 = 0x43
	descSASLOutcome    uint64 = 0x44

	descHeader                uint64 = 0x70
	descDeliveryAnnotations   uint64 = 0x71
	descMessageAnnotations    uint64 = 0x72
	descProperties            uint64 = 0x73
	descApplicationProperties uint64 = 0x74
	descData                  uint64 = 0x75
	descAMQPSequence          uint64 = 0x76
	descAMQPValue             uint64 = 0x77
	descFooter                uint64 = 0x78
)

// symbolicDescriptors maps the symbolic descriptor names of the known
// described types to their numeric codes.
var symbolicDescriptors = map[Symbol]uint64{
	"amqp:open:list":                  descOpen,
	"amqp:begin:list":                 descBegin,
	"amqp:attach:list":                descAttach,
	"amqp:flow:list":                  descFlow,
	"amqp:transfer:list":              descTransfer,
	"amqp:disposition:list":           descDisposition,
	"amqp:detach:list":                descDetach,
	"amqp:end:list":                   descEnd,
	"amqp:close:list":                 descClose,
	"amqp:error:list":                 descError,
	"amqp:received:list":              descReceived,
	"amqp:accepted:list":              descAccepted,
	"amqp:rejected:list":              descRejected,
	"amqp:released:list":              descReleased,
	"amqp:modified:list":              descModified,
	"amqp:source:list":                descSource,
	"amqp:target:list":                descTarget,
	"amqp:sasl-mechanisms:list":       descSASLMechanisms,
	"amqp:sasl-init:list":             descSASLInit,
	"amqp:sasl-challenge:list":        descSASLChallenge,
	"amqp:sasl-response:list":         descSASLResponse,
	"amqp:sasl-outcome:list":          descSASLOutcome,
	"amqp:header:list":                descHeader,
	"amqp:delivery-annotations:map":   descDeliveryAnnotations,
	"amqp:message-annotations:map":    descMessageAnnotations,
	"amqp:properties:list":            descProperties,
	"amqp:application-properties:map": descApplicationProperties,
	"amqp:data:binary":                descData,
	"amqp:amqp-sequence:list":         descAMQPSequence,
	"amqp:amqp-value:*":               descAMQPValue,
	"amqp:footer:map":                 descFooter,
}

// descriptorCode returns the numeric code of a descriptor given as a
// uint64 or as a known symbolic name.
func descriptorCode(d any) (uint64, bool) {
	switch v := d.(type) {
	case uint64:
		return v, true
	case Symbol:
		c, ok := symbolicDescriptors[v]
		return c, ok
	}
	return 0, false
}
