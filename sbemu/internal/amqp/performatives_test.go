package amqp

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

// allBodies has one fully populated value of every frame body.
func allBodies() []Body {
	return []Body{
		&Open{ContainerID: "sb-emulator", Hostname: "127.0.0.1:5672", MaxFrameSize: 65536, ChannelMax: 4999, IdleTimeout: 120000,
			OutgoingLocales: []Symbol{"en-US"}, IncomingLocales: []Symbol{"en-US", "de"},
			OfferedCapabilities: []Symbol{"ANONYMOUS-RELAY"}, DesiredCapabilities: []Symbol{},
			Properties: Map{{Key: Symbol("product"), Value: "MSGolangClient"}}},
		&Begin{RemoteChannel: ptr(uint16(7)), NextOutgoingID: 1, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 4294967294,
			OfferedCapabilities: []Symbol{"a"}, DesiredCapabilities: []Symbol{"b"}, Properties: Map{}},
		&Attach{Name: "link", Handle: 3, Role: RoleReceiver, SndSettleMode: ptr(SndSettleModeUnsettled), RcvSettleMode: ptr(RcvSettleModeSecond),
			Source: &Source{Address: "q1", ExpiryPolicy: "session-end",
				Filter: Map{{Key: Symbol("com.microsoft:session-filter"), Value: Described{Descriptor: uint64(0x137000000c), Value: "s1"}}}},
			Target: &Target{Address: "client", ExpiryPolicy: "session-end"}, Unsettled: Map{{Key: []byte{1}, Value: &Accepted{}}},
			IncompleteUnsettled: true, InitialDeliveryCount: ptr(uint32(0)), MaxMessageSize: ptr(uint64(262144)),
			OfferedCapabilities: []Symbol{"x"}, DesiredCapabilities: []Symbol{"y"},
			Properties: Map{{Key: Symbol("com.microsoft:locked-until-utc"), Value: int64(638000000000000000)}}},
		&Flow{NextIncomingID: ptr(uint32(1)), IncomingWindow: 5000, NextOutgoingID: 2, OutgoingWindow: 5000, Handle: ptr(uint32(0)),
			DeliveryCount: ptr(uint32(9)), LinkCredit: ptr(uint32(1000)), Available: ptr(uint32(0)), Drain: true, Echo: true,
			Properties: Map{{Key: Symbol("p"), Value: int32(1)}}},
		&Transfer{Handle: 1, DeliveryID: ptr(uint32(5)), DeliveryTag: []byte{0, 0, 0, 0, 0, 0, 0, 1}, MessageFormat: ptr(BatchMessageFormat),
			Settled: ptr(false), More: true, RcvSettleMode: ptr(RcvSettleModeSecond), State: &Received{SectionNumber: 1, SectionOffset: 2},
			Resume: true, Aborted: true, Batchable: true},
		&Disposition{Role: RoleReceiver, First: 1, Last: ptr(uint32(4)), Settled: true,
			State: &Rejected{Error: &Error{Condition: "com.microsoft:message-lock-lost", Description: "lost"}}, Batchable: true},
		&Detach{Handle: 2, Closed: true, Error: &Error{Condition: "amqp:link:detach-forced", Info: Map{{Key: Symbol("k"), Value: uint64(1)}}}},
		&End{Error: &Error{Condition: "amqp:internal-error"}},
		&Close{Error: &Error{Condition: "amqp:connection:forced", Description: "bye"}},
		&SASLMechanisms{Mechanisms: []Symbol{"ANONYMOUS", "MSSBCBS", "PLAIN"}},
		&SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte("anonymous"), Hostname: "127.0.0.1"},
		&SASLChallenge{Challenge: []byte{1}},
		&SASLResponse{Response: []byte{2}},
		&SASLOutcome{Code: SASLCodeAuth, AdditionalData: []byte{3}},
	}
}

// TestFrameBodiesRoundTrip encodes every body fully populated, decodes it
// back and also sends it through AppendFrame and FrameReader.
func TestFrameBodiesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, body := range allBodies() {
		b, err := EncodeFrameBody(nil, body)
		require.NoError(t, err, "%T", body)
		got, rest, err := DecodeFrameBody(append(b, 0xaa))
		require.NoError(t, err, "%T", body)
		assert.Equal(t, body, got)
		assert.Equal(t, []byte{0xaa}, rest, "bytes after the body are returned as the rest")
	}
}

// TestMinimalBodiesDecodeWithDefaults encodes bodies with only mandatory
// fields and checks the spec defaults for everything absent.
func TestMinimalBodiesDecodeWithDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		hex  string
		want Body
	}{
		{"00 53 10 c0 03 01 a1 00", &Open{MaxFrameSize: 4294967295, ChannelMax: 65535}},
		{"00 53 10 c0 0c 0a a1 00 40 40 40 40 40 40 40 40 40", &Open{MaxFrameSize: 4294967295, ChannelMax: 65535}},
		{"00 53 11 c0 05 04 40 43 43 43", &Begin{HandleMax: 4294967295}},
		{"00 53 12 c0 05 03 a1 00 43 42", &Attach{}},
		{"00 53 13 c0 05 04 40 43 43 43", &Flow{}},
		{"00 53 14 c0 02 01 43", &Transfer{}},
		{"00 53 15 c0 03 02 41 43", &Disposition{Role: RoleReceiver}},
		{"00 53 16 c0 02 01 43", &Detach{}},
		{"00 53 17 45", &End{}},
		{"00 53 18 c0 02 01 40", &Close{}},
		{"00 53 40 c0 03 01 a3 00", &SASLMechanisms{Mechanisms: []Symbol{""}}},
		{"00 53 41 c0 03 01 a3 00", &SASLInit{}},
		{"00 53 44 c0 03 01 50 00", &SASLOutcome{}},
		// Wide forms the encoder never writes: list32, uint, sym32 descriptor name.
		{"00 53 14 d0 00000009 00000001 70 00000007", &Transfer{Handle: 7}},
		{"00 a3 0f 616d71703a636c6f73653a6c697374 45", &Close{}},
	}
	for _, tc := range cases {
		got, rest, err := DecodeFrameBody(unhex(t, tc.hex))
		require.NoError(t, err, tc.hex)
		assert.Empty(t, rest)
		assert.Equal(t, tc.want, got, tc.hex)
	}
}

func TestSourceTargetDefaults(t *testing.T) {
	t.Parallel()
	b, err := EncodeFrameBody(nil, &Attach{Name: "n", Source: &Source{}, Target: &Target{}})
	require.NoError(t, err)
	got, _, err := DecodeFrameBody(b)
	require.NoError(t, err)
	a := got.(*Attach)
	assert.Equal(t, Symbol("session-end"), a.Source.ExpiryPolicy)
	assert.Equal(t, Symbol("session-end"), a.Target.ExpiryPolicy)
	assert.Nil(t, a.SndSettleMode, "absent settle mode stays nil (default mixed)")
	assert.Nil(t, a.RcvSettleMode, "absent settle mode stays nil (default first)")
}

// TestTransferKnownBytes checks a typical broker transfer against
// hand-computed bytes: trailing absent fields are trimmed, middle ones null.
func TestTransferKnownBytes(t *testing.T) {
	t.Parallel()
	tr := &Transfer{Handle: 0, DeliveryID: ptr(uint32(1)), DeliveryTag: []byte{0xab}, MessageFormat: ptr(uint32(0)), Settled: ptr(true)}
	b, err := EncodeFrameBody(nil, tr)
	require.NoError(t, err)
	want := unhex(t, "00 53 14 c0 09 05 43 52 01 a0 01 ab 43 41")
	assert.Equal(t, want, b)

	fl := &Flow{IncomingWindow: 5000, NextOutgoingID: 0, OutgoingWindow: 5000, Handle: ptr(uint32(0)), DeliveryCount: ptr(uint32(0)), LinkCredit: ptr(uint32(1000))}
	b, err = EncodeFrameBody(nil, fl)
	require.NoError(t, err)
	want = unhex(t, "00 53 13 c0 14 07 40 70 00001388 43 70 00001388 43 43 70 000003e8")
	assert.Equal(t, want, b)
}

func TestFrameBodyErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown descriptor":          "00 53 19 45",
		"unknown symbolic descriptor": "00 a3 03 616263 45",
		"not described":               "c0 01 00",
		"missing container-id":        "00 53 10 45",
		"null container-id":           "00 53 10 c0 02 01 40",
		"missing begin windows":       "00 53 11 c0 03 02 40 43",
		"missing attach role":         "00 53 12 c0 04 02 a1 00 43",
		"missing transfer handle":     "00 53 14 45",
		"missing disposition first":   "00 53 15 c0 02 01 41",
		"missing detach handle":       "00 53 16 45",
		"missing sasl mechanism":      "00 53 41 45",
		"missing sasl outcome code":   "00 53 44 45",
		"wrong field type":            "00 53 14 c0 03 01 a1 00",
		"uint overflows ushort":       "00 53 10 c0 0a 04 a1 00 40 43 70 00010000",
		"body not a list":             "00 53 10 a1 00",
		"truncated":                   "00 53 10 c0 05 02 a1 00",
		"list size mismatch":          "00 53 14 c0 04 01 43 40 40",
		"error is not an error":       "00 53 18 c0 04 01 00 53 24 45",
		"state is not a state":        "00 53 14 c0 0b 08 43 40 40 40 40 40 40 a1 00",
		"source is a target":          "00 53 12 c0 0a 06 a1 00 43 42 40 40 00 53 29 45",
		"bad bool byte":               "00 53 16 c0 04 02 43 56 02",
		"empty":                       "",
	}
	for name, h := range cases {
		_, _, err := DecodeFrameBody(unhex(t, h))
		assert.Error(t, err, name)
	}
}

func TestExtraFieldsIgnored(t *testing.T) {
	t.Parallel()
	// detach with a fourth, unknown field.
	got, _, err := DecodeFrameBody(unhex(t, "00 53 16 c0 07 04 52 02 41 40 a1 00"))
	require.NoError(t, err)
	assert.Equal(t, &Detach{Handle: 2, Closed: true}, got)
}

func TestEncodeFrameBodyRejectsNil(t *testing.T) {
	t.Parallel()
	_, err := EncodeFrameBody(nil, nil)
	assert.Error(t, err)
	_, err = EncodeFrameBody(nil, (*Open)(nil))
	assert.Error(t, err)
}

func TestBodyStrings(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"*amqp.Open":           {"Open{", `container-id="sb-emulator"`, "max-frame-size=65536", "channel-max=4999", "idle-time-out=120000"},
		"*amqp.Begin":          {"Begin{", "remote-channel=7", "incoming-window=5000", "handle-max=4294967294"},
		"*amqp.Attach":         {"Attach{", `name="link"`, "handle=3", "role=receiver", "snd-settle-mode=unsettled", "rcv-settle-mode=second", `source="q1"`, `target="client"`, "max-message-size=262144"},
		"*amqp.Flow":           {"Flow{", "handle=0", "delivery-count=9", "link-credit=1000", "drain=true"},
		"*amqp.Transfer":       {"Transfer{", "handle=1", "delivery-id=5", "delivery-tag=0000000000000001", "message-format=2147563264", "settled=false", "more=true", "received("},
		"*amqp.Disposition":    {"Disposition{", "role=receiver", "first=1", "last=4", "settled=true", "rejected(com.microsoft:message-lock-lost)"},
		"*amqp.Detach":         {"Detach{", "handle=2", "closed=true", "amqp:link:detach-forced"},
		"*amqp.End":            {"End{", "amqp:internal-error"},
		"*amqp.Close":          {"Close{", "amqp:connection:forced", `"bye"`},
		"*amqp.SASLMechanisms": {"ANONYMOUS", "MSSBCBS"},
		"*amqp.SASLInit":       {"mechanism=ANONYMOUS", "initial-response-len=9", `hostname="127.0.0.1"`},
		"*amqp.SASLChallenge":  {"challenge-len=1"},
		"*amqp.SASLResponse":   {"response-len=1"},
		"*amqp.SASLOutcome":    {"code=1"},
	}
	for _, body := range allBodies() {
		s := body.(interface{ String() string }).String()
		key := typeName(body)
		for _, w := range want[key] {
			assert.Contains(t, s, w, key)
		}
		require.NotEmpty(t, want[key], key)
	}
	init := (&SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00secret-key")}).String()
	assert.NotContains(t, init, "secret-key", "credentials never reach a log line")
	assert.Equal(t, "AMQP frame ch=1 heartbeat", Frame{Channel: 1}.String())
	fs := Frame{Body: &Transfer{Handle: 1}, Payload: []byte("payload-secret")}.String()
	assert.Contains(t, fs, "payload-len=14")
	assert.NotContains(t, fs, "payload-secret")
}

func typeName(v any) string {
	return fmtType(v)
}

func fmtType(v any) string { return fmt.Sprintf("%T", v) }
