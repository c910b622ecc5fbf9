package amqp

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodePrimitives checks the bytes of every primitive encoding against
// the format codes of the AMQP 1.0 types section, including the choice of
// compact forms.
func TestEncodePrimitives(t *testing.T) {
	t.Parallel()
	ts := time.UnixMilli(1311704463521).UTC()
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, "40"},
		{"true", true, "41"},
		{"false", false, "42"},
		{"ubyte", uint8(0xfe), "50fe"},
		{"ushort", uint16(0x1234), "601234"},
		{"uint0", uint32(0), "43"},
		{"smalluint", uint32(255), "52ff"},
		{"uint", uint32(256), "7000000100"},
		{"ulong0", uint64(0), "44"},
		{"smallulong", uint64(7), "5307"},
		{"ulong", uint64(math.MaxUint64), "80ffffffffffffffff"},
		{"byte", int8(-2), "51fe"},
		{"short", int16(-2), "61fffe"},
		{"smallint", int32(-128), "5480"},
		{"smallint max", int32(127), "547f"},
		{"int", int32(128), "7100000080"},
		{"int negative", int32(-129), "71ffffff7f"},
		{"smalllong", int64(-1), "55ff"},
		{"long", int64(1 << 40), "810000010000000000"},
		{"float", float32(1.5), "723fc00000"},
		{"double", float64(-2), "82c000000000000000"},
		{"decimal32", Decimal32{1, 2, 3, 4}, "7401020304"},
		{"decimal64", Decimal64{1, 2, 3, 4, 5, 6, 7, 8}, "840102030405060708"},
		{"decimal128", Decimal128{15: 9}, "9400000000000000000000000000000009"},
		{"char", Char('€'), "73000020ac"},
		{"timestamp", ts, "830000013167adb8a1"},
		{"uuid", UUID{0: 0xde, 15: 0xad}, "98de0000000000000000000000000000ad"},
		{"vbin8", []byte{1, 2}, "a0020102"},
		{"vbin8 empty", []byte{}, "a000"},
		{"str8", "hi", "a1026869"},
		{"sym8", Symbol("ab"), "a3026162"},
		{"list0", []any{}, "45"},
		{"list8", []any{uint32(1), "a"}, "c006025201a10161"},
		{"map8", Map{{Key: Symbol("k"), Value: true}}, "c10502a3016b41"},
		{"map8 empty", Map{}, "c10100"},
		{"array8 sym", []Symbol{"a", "bc"}, "e00702a301610262 63"},
		{"array8 long", NewArray(TypeCodeLong, int64(1)), "e00a01810000000000000001"},
		{"array8 smalllong", NewArray(TypeCodeSmalllong, int64(1), int64(-1)), "e0040255 01ff"},
		{"array8 timestamp", NewArray(TypeCodeTimestamp, ts), "e00a01830000013167adb8a1"},
		{"array8 uint0 widened", NewArray(TypeCodeUint0, uint32(0)), "e003015200"},
		{"array8 bool", NewArray(TypeCodeBoolTrue, true, false), "e004025601 00"},
		{"described ulong", Described{Descriptor: uint64(0x137000000c), Value: "s"}, "00 80 00000013 7000000c a10173"},
		{"described symbol", Described{Descriptor: Symbol("x:y"), Value: nil}, "00a303783a7940"},
		{"described array", Array{Code: TypeCodeStr8, Descriptor: uint64(5), Values: []any{"a"}}, "e0 07 01 00 53 05 a1 01 61"},
		{"error", &Error{Condition: "amqp:not-found", Description: "x"}, "005 31d c0 14 02 a30e616d71703a6e6f742d666f756e64 a10178"},
		{"accepted", &Accepted{}, "00 53 24 45"},
		{"released", &Released{}, "00 53 26 45"},
		{"rejected no error", &Rejected{}, "00 53 25 45"},
		{"received", &Received{SectionNumber: 1, SectionOffset: 2}, "00 53 23 c0 05 02 52 01 53 02"},
		{"modified", &Modified{UndeliverableHere: true}, "00 53 27 c0 03 02 40 41"},
		{"nil error", (*Error)(nil), "40"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := AppendValue([]byte{0xff}, tc.v)
			require.NoError(t, err)
			assert.Equal(t, append([]byte{0xff}, unhex(t, tc.want)...), got, "prefix kept, value appended")
		})
	}
}

// TestEncodeWideForms checks the 32-bit size forms used once a value no
// longer fits the 8-bit ones.
func TestEncodeWideForms(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, 256))
	b, err := AppendValue(nil, long)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "b100000100"), b[:5])
	assert.Len(t, b, 5+256)

	b, err = AppendValue(nil, Symbol(long))
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "b300000100"), b[:5])

	b, err = AppendValue(nil, []byte(long))
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "b000000100"), b[:5])

	list := make([]any, 256)
	b, err = AppendValue(nil, list)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "d0 00000104 00000100"), b[:9], "256 nulls need list32")
	assert.Len(t, b, 9+256)

	m := Map{{Key: "k", Value: long}}
	b, err = AppendValue(nil, m)
	require.NoError(t, err)
	assert.Equal(t, byte(TypeCodeMap32), b[0])
	assert.Equal(t, unhex(t, "00000002"), b[5:9])

	b, err = AppendValue(nil, []Symbol{Symbol(long)})
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "f0 00000109 00000001 b3 00000100"), b[:14], "a long symbol widens the array to sym32")

	b, err = AppendValue(nil, NewArray(TypeCodeSmallUint, uint32(1), uint32(300)))
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "e0 0a 02 70 00000001 0000012c"), b, "a large element widens smalluint to uint")
}

// TestDecodeAllForms decodes every wire form, including ones the encoder
// never writes, into the documented Go types.
func TestDecodeAllForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"null", "40", nil},
		{"bool true", "5601", true},
		{"bool false", "5600", false},
		{"true", "41", true},
		{"false", "42", false},
		{"ubyte", "5007", uint8(7)},
		{"ushort", "600102", uint16(258)},
		{"uint", "7000000001", uint32(1)},
		{"smalluint", "5209", uint32(9)},
		{"uint0", "43", uint32(0)},
		{"ulong", "800000000000000002", uint64(2)},
		{"smallulong", "5302", uint64(2)},
		{"ulong0", "44", uint64(0)},
		{"byte", "51ff", int8(-1)},
		{"short", "61ffff", int16(-1)},
		{"int", "71fffffffe", int32(-2)},
		{"smallint", "54fe", int32(-2)},
		{"long", "81fffffffffffffffe", int64(-2)},
		{"smalllong", "55fe", int64(-2)},
		{"float", "723fc00000", float32(1.5)},
		{"double", "823ff8000000000000", float64(1.5)},
		{"char", "7300000041", Char('A')},
		{"timestamp", "830000000000000001", time.UnixMilli(1).UTC()},
		{"negative timestamp", "83ffffffffffffffff", time.UnixMilli(-1).UTC()},
		{"uuid", "9800112233445566778899aabbccddeeff", UUID{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}},
		{"vbin32", "b00000000101", []byte{1}},
		{"str32", "b10000000161", "a"},
		{"sym32", "b30000000161", Symbol("a")},
		{"list32", "d0 00000006 00000002 41 42", []any{true, false}},
		{"map32", "d1 00000006 00000002 43 44", Map{{Key: uint32(0), Value: uint64(0)}}},
		{"map non-string keys", "c1 06 04 41 40 5300 42", Map{{Key: true, Value: nil}, {Key: uint64(0), Value: false}}},
		{"array32 int", "f0 0000000d 00000002 71 00000001 00000002", NewArray(TypeCodeInt, int32(1), int32(2))},
		{"array8 smallint", "e0 03 02 54 01", nil}, // truncated: 2 elements need 2 bytes
		{"empty array", "e0 02 00 a3", Array{Code: TypeCodeSym8, Values: []any{}}},
		{"described unknown", "00 53 99 a1 01 61", Described{Descriptor: uint64(0x99), Value: "a"}},
		{"described symbolic known", "00 a3 12 616d71703a61636365707465643a6c697374 45", &Accepted{}},
		{"source defaults", "00 53 28 c0 04 01 a1 01 71", &Source{Address: "q", ExpiryPolicy: "session-end"}},
		{"target", "00 53 29 45", &Target{ExpiryPolicy: "session-end"}},
		{"rejected with error", "00 53 25 c0 09 01 00 53 1d c0 03 01 a3 00", &Rejected{Error: &Error{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := unhex(t, tc.in)
			v, n, err := DecodeValue(in)
			if tc.want == nil && tc.name != "null" {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(in), n)
			assert.Equal(t, tc.want, v)
		})
	}
}

// TestDecodeStopsAtValueEnd checks that DecodeValue reports the bytes of
// the first value only.
func TestDecodeStopsAtValueEnd(t *testing.T) {
	t.Parallel()
	v, n, err := DecodeValue(unhex(t, "5201 ffff"))
	require.NoError(t, err)
	assert.Equal(t, uint32(1), v)
	assert.Equal(t, 2, n)
}

// TestRoundTripValues encodes and decodes values of every supported Go type.
func TestRoundTripValues(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 28, 17, 0, 0, 123e6, time.UTC)
	values := []any{
		nil, true, false, uint8(1), uint16(2), uint32(3), uint32(1 << 20), uint64(4), uint64(1 << 40),
		int8(-5), int16(-6), int32(-7), int32(-1 << 20), int64(-8), int64(-1 << 40),
		float32(1.25), 2.5, Decimal32{1}, Decimal64{2}, Decimal128{3}, Char('x'), ts,
		UUID{1, 2, 3}, []byte("bin"), "str", Symbol("sym"),
		[]any{uint32(1), "two", []any{Symbol("three")}},
		Map{{Key: "k", Value: Map{{Key: int64(1), Value: []byte{}}}}, {Key: []byte{1}, Value: nil}},
		NewArray(TypeCodeLong, int64(1), int64(-1), int64(1<<40)),
		NewArray(TypeCodeTimestamp, ts, ts.Add(time.Hour)),
		NewArray(TypeCodeUUID, UUID{1}, UUID{2}),
		NewArray(TypeCodeStr8, "a", "b"),
		NewArray(TypeCodeList32, []any{uint32(1)}, []any{}),
		NewArray(TypeCodeMap32, Map{{Key: "a", Value: int32(1)}}),
		NewArray(TypeCodeArray32, NewArray(TypeCodeUbyte, uint8(1), uint8(2))),
		Array{Code: TypeCodeStr8, Descriptor: Symbol("com.example:x"), Values: []any{"v"}},
		Described{Descriptor: uint64(0x137000000c), Value: "session"},
		&Error{Condition: "amqp:internal-error", Description: "boom", Info: Map{{Key: Symbol("k"), Value: "v"}}},
		&Received{SectionNumber: 3, SectionOffset: 1 << 33},
		&Accepted{}, &Released{},
		&Rejected{Error: &Error{Condition: "amqp:link:message-size-exceeded"}},
		&Modified{DeliveryFailed: true, MessageAnnotations: Map{{Key: Symbol("x-opt-a"), Value: int64(1)}}},
		&Source{Address: "q", ExpiryPolicy: "link-detach", Filter: Map{{Key: Symbol("f"), Value: Described{Descriptor: uint64(1), Value: nil}}},
			DefaultOutcome: &Accepted{}, Outcomes: []Symbol{"amqp:accepted:list"}, Capabilities: []Symbol{}},
		&Target{Address: "t", Durable: 2, ExpiryPolicy: "never", Timeout: 9, Dynamic: true},
	}
	for _, v := range values {
		b, err := AppendValue(nil, v)
		require.NoError(t, err, "%#v", v)
		got, n, err := DecodeValue(b)
		require.NoError(t, err, "%#v", v)
		assert.Equal(t, len(b), n)
		assert.Equal(t, v, got)
	}
}

func TestAppendValueRejectsUnknownTypes(t *testing.T) {
	t.Parallel()
	for _, v := range []any{int(1), uint(1), struct{}{}, []string{"a"}, map[string]any{}, &Open{}} {
		_, err := AppendValue(nil, v)
		assert.Error(t, err, "%T", v)
	}
	_, err := AppendValue(nil, NewArray(TypeCodeLong, int32(1)))
	assert.Error(t, err, "element type must match the code")
	_, err = AppendValue(nil, NewArray(TypeCodeNull, nil))
	assert.Error(t, err, "arrays of null are refused")
}

func TestMapGetSetDelete(t *testing.T) {
	t.Parallel()
	var m Map
	m.Set(Symbol("a"), 1)
	m.Set("a", 2) // a string key differs from a symbol key
	m.Set([]byte{1}, 3)
	m.Set(uint64(7), 4)
	m.Set(Symbol("a"), 5)
	require.Len(t, m, 4)

	v, ok := m.Get(Symbol("a"))
	assert.True(t, ok)
	assert.Equal(t, 5, v)
	v, ok = m.Get("a")
	assert.True(t, ok)
	assert.Equal(t, 2, v)
	v, ok = m.Get([]byte{1})
	assert.True(t, ok)
	assert.Equal(t, 3, v)
	_, ok = m.Get(uint32(7))
	assert.False(t, ok, "uint32 7 is not ulong 7")
	_, ok = m.Get([]any{1}) // uncomparable keys must not panic
	assert.False(t, ok)

	m.Delete("a")
	_, ok = m.Get("a")
	assert.False(t, ok)
	assert.Len(t, m, 3)
	m.Delete("missing")
	assert.Len(t, m, 3)
	assert.Equal(t, Symbol("a"), m[0].Key, "wire order is kept")
}

func TestUUIDString(t *testing.T) {
	t.Parallel()
	u := UUID{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	assert.Equal(t, "12345678-9abc-def0-0123-456789abcdef", u.String())
}

// TestArraysOfEveryElementType round-trips an array for every element code
// and checks the element code written (compact codes widen or normalise as
// documented on appendArray).
func TestArraysOfEveryElementType(t *testing.T) {
	t.Parallel()
	ts := time.UnixMilli(1700000000000).UTC()
	long := string(make([]byte, 300))
	cases := []struct {
		in       Array
		wantCode TypeCode
	}{
		{NewArray(TypeCodeBool, true, false), TypeCodeBool},
		{NewArray(TypeCodeBoolFalse, false), TypeCodeBool},
		{NewArray(TypeCodeUbyte, uint8(1)), TypeCodeUbyte},
		{NewArray(TypeCodeUshort, uint16(1)), TypeCodeUshort},
		{NewArray(TypeCodeUint, uint32(1)), TypeCodeUint},
		{NewArray(TypeCodeSmallUint, uint32(1)), TypeCodeSmallUint},
		{NewArray(TypeCodeUlong, uint64(1)), TypeCodeUlong},
		{NewArray(TypeCodeUlong0, uint64(0)), TypeCodeSmallUlong},
		{NewArray(TypeCodeSmallUlong, uint64(1), uint64(256)), TypeCodeUlong},
		{NewArray(TypeCodeByte, int8(-1)), TypeCodeByte},
		{NewArray(TypeCodeShort, int16(-1)), TypeCodeShort},
		{NewArray(TypeCodeInt, int32(-1)), TypeCodeInt},
		{NewArray(TypeCodeSmallint, int32(-1), int32(1000)), TypeCodeInt},
		{NewArray(TypeCodeSmallint, int32(-1)), TypeCodeSmallint},
		{NewArray(TypeCodeSmalllong, int64(-1), int64(1000)), TypeCodeLong},
		{NewArray(TypeCodeFloat, float32(1)), TypeCodeFloat},
		{NewArray(TypeCodeDouble, float64(1)), TypeCodeDouble},
		{NewArray(TypeCodeDecimal32, Decimal32{1}), TypeCodeDecimal32},
		{NewArray(TypeCodeDecimal64, Decimal64{1}), TypeCodeDecimal64},
		{NewArray(TypeCodeDecimal128, Decimal128{1}), TypeCodeDecimal128},
		{NewArray(TypeCodeChar, Char('a')), TypeCodeChar},
		{NewArray(TypeCodeTimestamp, ts), TypeCodeTimestamp},
		{NewArray(TypeCodeUUID, UUID{1}), TypeCodeUUID},
		{NewArray(TypeCodeVbin32, []byte{1}), TypeCodeVbin8},
		{NewArray(TypeCodeVbin8, []byte(long)), TypeCodeVbin32},
		{NewArray(TypeCodeStr32, "a"), TypeCodeStr8},
		{NewArray(TypeCodeStr8, long), TypeCodeStr32},
		{NewArray(TypeCodeSym8, Symbol("a")), TypeCodeSym8},
		{NewArray(TypeCodeSym8, Symbol(long)), TypeCodeSym32},
		{NewArray(TypeCodeList0, []any{}), TypeCodeList32},
		{NewArray(TypeCodeList8, []any{"x", uint64(2)}), TypeCodeList32},
		{NewArray(TypeCodeMap8, Map{{Key: Symbol("k"), Value: nil}}), TypeCodeMap32},
		{NewArray(TypeCodeArray8, NewArray(TypeCodeSym8, Symbol("a"))), TypeCodeArray32},
		{Array{Code: TypeCodeLong, Values: []any{}}, TypeCodeLong},
	}
	for _, tc := range cases {
		b, err := AppendValue(nil, tc.in)
		require.NoError(t, err, "%#v", tc.in)
		v, n, err := DecodeValue(b)
		require.NoError(t, err, "%#v", tc.in)
		assert.Equal(t, len(b), n)
		got := v.(Array)
		assert.Equal(t, tc.wantCode, got.Code, "%#02x", byte(tc.in.Code))
		assert.True(t, equalAMQP(tc.in, got), "%#v != %#v", tc.in, got)
	}
	for _, bad := range []Array{
		NewArray(TypeCodeUbyte, uint16(1)), NewArray(TypeCodeUshort, uint8(1)), NewArray(TypeCodeSmallUint, int32(1)),
		NewArray(TypeCodeSmallUlong, "x"), NewArray(TypeCodeByte, uint8(1)), NewArray(TypeCodeShort, 1),
		NewArray(TypeCodeInt, int64(1)), NewArray(TypeCodeFloat, 1.0), NewArray(TypeCodeDouble, float32(1)),
		NewArray(TypeCodeDecimal32, Decimal64{}), NewArray(TypeCodeDecimal64, Decimal32{}), NewArray(TypeCodeDecimal128, 1),
		NewArray(TypeCodeChar, 'a'), NewArray(TypeCodeTimestamp, int64(1)), NewArray(TypeCodeUUID, []byte{}),
		NewArray(TypeCodeVbin8, "s"), NewArray(TypeCodeStr8, Symbol("s")), NewArray(TypeCodeSym8, "s"),
		NewArray(TypeCodeList32, Map{}), NewArray(TypeCodeMap32, []any{}), NewArray(TypeCodeArray32, []any{}),
		NewArray(TypeCodeBool, 1), NewArray(TypeCode(0x99), 1), NewArray(TypeCodeDescribed, 1),
		NewArray(TypeCodeList32, []any{struct{}{}}),
	} {
		_, err := AppendValue(nil, bad)
		assert.Error(t, err, "%#v", bad)
	}
}

func TestDecodeRejectsUnknownCodes(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"99", "e0 02 01 99", "e0 02 01 40", "e0 03 01 00 40", "f0 00000006 00000001 00 53 01 00", "c1 02 01 40", "c0 00"} {
		_, _, err := DecodeValue(unhex(t, h))
		assert.Error(t, err, h)
	}
}
