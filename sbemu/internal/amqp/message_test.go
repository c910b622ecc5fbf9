package amqp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleMessage(t testing.TB) *Message {
	t.Helper()
	m := &Message{
		Header:              &Header{Durable: true, Priority: 4, TTL: 60000, DeliveryCount: 2},
		DeliveryAnnotations: Map{{Key: Symbol("x-opt-lock-token"), Value: UUID{1, 2, 3}}},
		MessageAnnotations: Map{
			{Key: Symbol("x-opt-sequence-number"), Value: int64(42)},
			{Key: Symbol("x-opt-enqueued-time"), Value: time.UnixMilli(1764349200000).UTC()},
			{Key: Symbol("x-opt-locked-until"), Value: time.UnixMilli(1764349260000).UTC()},
		},
		Properties: &Properties{
			MessageID: "6a7e0a3e-7b56-4a3f-9d1c-0e4e9a1b2c3d", UserID: []byte("u"), To: "q1", Subject: "license-fixed",
			ReplyTo: "r", CorrelationID: uint64(7), ContentType: "application/json", ContentEncoding: "utf-8",
			AbsoluteExpiryTime: time.UnixMilli(1764352800000).UTC(), CreationTime: time.UnixMilli(1764349200000).UTC(),
			GroupID: "g", GroupSequence: ptr(uint32(3)), ReplyToGroupID: "rg",
		},
		ApplicationProperties: Map{{Key: "tenant", Value: "contoso"}, {Key: "attempt", Value: int32(1)}},
	}
	m.SetData([]byte(`{"userId":"2f1c"}`))
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	m := sampleMessage(t)
	b, err := AppendMessage(nil, m)
	require.NoError(t, err)
	got, err := DecodeMessage(b)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	data, err := got.Data()
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte(`{"userId":"2f1c"}`)}, data)

	again, err := AppendMessage(nil, got)
	require.NoError(t, err)
	assert.Equal(t, b, again, "re-encoding a decoded message gives the same bytes")
}

func TestMessageIDKeepsItsType(t *testing.T) {
	t.Parallel()
	for _, id := range []any{"text", UUID{9}, uint64(1 << 40), []byte{1, 2}} {
		m := &Message{Properties: &Properties{MessageID: id, CorrelationID: id}}
		b, err := AppendMessage(nil, m)
		require.NoError(t, err)
		got, err := DecodeMessage(b)
		require.NoError(t, err)
		assert.Equal(t, id, got.Properties.MessageID)
		assert.Equal(t, id, got.Properties.CorrelationID)
	}
	_, err := AppendMessage(nil, &Message{Properties: &Properties{MessageID: int32(1)}})
	assert.Error(t, err, "int is not a message-id type")
}

// TestHeaderAlwaysHasAllFields checks the bytes of a zero header: all five
// fields, delivery-count present as uint0, TTL 0 as null.
func TestHeaderAlwaysHasAllFields(t *testing.T) {
	t.Parallel()
	b, err := AppendMessage(nil, &Message{Header: &Header{Priority: 4}})
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "00 53 70 c0 07 05 42 50 04 40 42 43"), b)

	got, err := DecodeMessage(unhex(t, "00 53 70 45"))
	require.NoError(t, err)
	assert.Equal(t, &Header{Priority: 4}, got.Header, "absent priority defaults to 4")
}

func TestRawBodyKeptVerbatim(t *testing.T) {
	t.Parallel()
	// Two data sections in their wide vbin32 form, then a footer: the bytes
	// must come back exactly, not re-encoded.
	body := unhex(t, "00 53 75 b0 00000001 61  00 53 75 b0 00000001 62  00 53 78 c1 01 00")
	in := append(unhex(t, "00 53 73 45"), body...)
	m, err := DecodeMessage(in)
	require.NoError(t, err)
	assert.Equal(t, body, m.RawBody)
	data, err := m.Data()
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b")}, data)
	out, err := AppendMessage(nil, m)
	require.NoError(t, err)
	assert.Equal(t, in, out)
	in[len(in)-1] = 0xee // RawBody is a copy, not a view of the input
	assert.Equal(t, byte(0), m.RawBody[len(m.RawBody)-1])
}

func TestMessageValue(t *testing.T) {
	t.Parallel()
	m := &Message{ApplicationProperties: Map{{Key: "statusCode", Value: int32(200)}}}
	require.NoError(t, m.SetValue(Map{{Key: "sequence-numbers", Value: NewArray(TypeCodeLong, int64(1), int64(2))}}))
	b, err := AppendMessage(nil, m)
	require.NoError(t, err)
	got, err := DecodeMessage(b)
	require.NoError(t, err)
	v, err := got.Value()
	require.NoError(t, err)
	assert.Equal(t, Map{{Key: "sequence-numbers", Value: NewArray(TypeCodeLong, int64(1), int64(2))}}, v)
	_, err = got.Data()
	assert.ErrorIs(t, err, ErrNotData)

	got.SetData([]byte("x"))
	_, err = got.Value()
	assert.ErrorIs(t, err, ErrNoValue)
	assert.Error(t, m.SetValue(struct{}{}))

	empty := &Message{}
	_, err = empty.Value()
	assert.ErrorIs(t, err, ErrNoValue)
	data, err := empty.Data()
	require.NoError(t, err)
	assert.Empty(t, data)
}

func TestSplitBatch(t *testing.T) {
	t.Parallel()
	var sections []byte
	var want []*Message
	for i := range 3 {
		m := &Message{Properties: &Properties{MessageID: uint64(i + 1)}, ApplicationProperties: Map{{Key: "i", Value: int32(i)}}}
		m.SetData([]byte{byte('a' + i)})
		want = append(want, m)
		enc, err := AppendMessage(nil, m)
		require.NoError(t, err)
		sections = append(append(sections, 0x00, 0x53, 0x75), appendBinary(nil, enc)...)
	}
	envelope := &Message{Header: &Header{Priority: 4}, Properties: &Properties{MessageID: uint64(1)}, RawBody: sections}
	b, err := AppendMessage(nil, envelope)
	require.NoError(t, err)
	decoded, err := DecodeMessage(b)
	require.NoError(t, err)
	got, err := SplitBatch(decoded)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = SplitBatch(&Message{})
	assert.Error(t, err, "an envelope without data sections")
	bad := &Message{}
	bad.SetData([]byte{0xc0})
	_, err = SplitBatch(bad)
	assert.Error(t, err, "a data section that is not a message")
}

func TestDecodeMessageErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not described":            "c0 01 00",
		"unknown section":          "00 53 79 45",
		"out of order":             "00 53 73 45 00 53 70 45",
		"duplicate header":         "00 53 70 45 00 53 70 45",
		"header after body":        "00 53 75 a0 00 00 53 70 45",
		"data not binary":          "00 53 75 a1 00",
		"sequence not list":        "00 53 76 a1 00",
		"two values":               "00 53 77 40 00 53 77 40",
		"mixed body kinds":         "00 53 75 a0 00 00 53 77 40",
		"section after footer":     "00 53 78 c1 01 00 00 53 75 a0 00",
		"annotations not a map":    "00 53 72 45",
		"bad message id":           "00 53 73 c0 03 01 54 01",
		"bad timestamp":            "00 53 73 c0 0b 09 40 40 40 40 40 40 40 40 43",
		"truncated body":           "00 53 75 a0 05 01",
		"truncated property":       "00 53 73 c0 05 01 a1 09",
		"header wrong type":        "00 53 70 c0 02 01 a1",
		"truncated descriptor":     "00",
		"descriptor not ulong/sym": "00 a1 01 61 45",
	}
	for name, h := range cases {
		_, err := DecodeMessage(unhex(t, h))
		assert.Error(t, err, name)
	}
}

func TestDecodeMessageAcceptsSymbolicSections(t *testing.T) {
	t.Parallel()
	// amqp:header:list with an empty list, then amqp:amqp-value:* holding null.
	in := unhex(t, "00 a3 10 616d71703a6865616465723a6c697374 45  00 a3 11 616d71703a616d71702d76616c75653a2a 40")
	m, err := DecodeMessage(in)
	require.NoError(t, err)
	assert.Equal(t, &Header{Priority: 4}, m.Header)
	v, err := m.Value()
	require.NoError(t, err)
	assert.Nil(t, v)
}

func TestErrorAsGoError(t *testing.T) {
	t.Parallel()
	var err error = &Error{Condition: "com.microsoft:message-lock-lost", Description: "lock expired"}
	assert.EqualError(t, err, "amqp: com.microsoft:message-lock-lost: lock expired")
	assert.EqualError(t, &Error{Condition: "amqp:not-found"}, "amqp: amqp:not-found")
	assert.Equal(t, "amqp: <nil error>", (*Error)(nil).Error())
	assert.Equal(t, "<nil>", (*Error)(nil).String())
	_, err = SplitBatch(nil)
	assert.Error(t, err)
}
