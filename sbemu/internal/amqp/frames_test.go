package amqp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestOpenFrameKnownBytes(t *testing.T) {
	t.Parallel()
	f := Frame{Type: FrameTypeAMQP, Channel: 0, Body: &Open{ContainerID: "c", MaxFrameSize: 512, ChannelMax: 1}}
	got, err := AppendFrame(nil, f)
	require.NoError(t, err)
	want := unhex(t, "0000001a 02 00 0000"+"00 53 10 c0 0d 04 a1 01 63 40 70 00 00 02 00 60 00 01")
	assert.Equal(t, want, got)

	fr := NewFrameReader(bytes.NewReader(got), 512)
	back, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, &Open{ContainerID: "c", MaxFrameSize: 512, ChannelMax: 1}, back.Body)
	_, err = fr.ReadFrame()
	assert.ErrorIs(t, err, io.EOF)
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	got, err := AppendFrame(nil, Frame{Channel: 3})
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "00000008 02 00 0003"), got)
	f, err := NewFrameReader(bytes.NewReader(got), 512).ReadFrame()
	require.NoError(t, err)
	assert.Nil(t, f.Body)
	assert.Equal(t, uint16(3), f.Channel)
}

func TestFrameTooLargeRefused(t *testing.T) {
	t.Parallel()
	hdr := unhex(t, "7fffffff 02 00 0000")
	_, err := NewFrameReader(bytes.NewReader(hdr), 4096).ReadFrame()
	require.True(t, errors.Is(err, ErrFrameTooLarge), "%v", err)
}

func TestExtendedHeaderSkipped(t *testing.T) {
	t.Parallel()
	body, err := EncodeFrameBody(nil, &Close{})
	require.NoError(t, err)
	// doff 3: four bytes of extended header before the body.
	in := append(unhex(t, "00000010 03 00 0005 deadbeef"), body...)
	in[3] = byte(len(in))
	f, err := NewFrameReader(bytes.NewReader(in), 512).ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, &Close{}, f.Body)
	assert.Equal(t, uint16(5), f.Channel)

	// An extended header with no body is still a heartbeat.
	f, err = NewFrameReader(bytes.NewReader(unhex(t, "0000000c 03 00 0000 01020304")), 512).ReadFrame()
	require.NoError(t, err)
	assert.Nil(t, f.Body)
}

func TestTransferPayload(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte{0x5a}, 1000)
	in := Frame{Type: FrameTypeAMQP, Channel: 2, Body: &Transfer{Handle: 1, DeliveryID: ptr(uint32(0)), DeliveryTag: []byte{1}, More: true}, Payload: payload}
	b, err := AppendFrame([]byte("prefix"), in)
	require.NoError(t, err)
	fr := NewFrameReader(bytes.NewReader(b[len("prefix"):]), 2048)
	got, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, in, got)
}

func TestSASLFrames(t *testing.T) {
	t.Parallel()
	var b []byte
	var err error
	for _, body := range []Body{&SASLMechanisms{Mechanisms: []Symbol{"ANONYMOUS"}}, &SASLOutcome{Code: SASLCodeOK}} {
		b, err = AppendFrame(b, Frame{Type: FrameTypeSASL, Body: body})
		require.NoError(t, err)
	}
	fr := NewFrameReader(bytes.NewReader(b), 512)
	f, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, FrameTypeSASL, f.Type)
	assert.Equal(t, &SASLMechanisms{Mechanisms: []Symbol{"ANONYMOUS"}}, f.Body)
	f, err = fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, &SASLOutcome{Code: SASLCodeOK}, f.Body)

	_, err = AppendFrame(nil, Frame{Type: FrameTypeSASL, Body: &Open{}})
	assert.Error(t, err, "performative in a SASL frame")
	_, err = AppendFrame(nil, Frame{Type: FrameTypeAMQP, Body: &SASLInit{}})
	assert.Error(t, err, "SASL body in an AMQP frame")
	_, err = AppendFrame(nil, Frame{Type: 7})
	assert.Error(t, err, "unknown frame type")
	_, err = AppendFrame(nil, Frame{Body: &Flow{}, Payload: []byte{1}})
	assert.Error(t, err, "payload on a non-transfer frame")

	// A SASL body arriving in an AMQP frame is refused when read.
	sasl, err := AppendFrame(nil, Frame{Type: FrameTypeSASL, Body: &SASLOutcome{}})
	require.NoError(t, err)
	sasl[5] = FrameTypeAMQP
	_, err = NewFrameReader(bytes.NewReader(sasl), 512).ReadFrame()
	assert.Error(t, err)
}

func TestFrameReaderErrors(t *testing.T) {
	t.Parallel()
	good, err := AppendFrame(nil, Frame{Body: &Detach{Handle: 1}})
	require.NoError(t, err)
	cases := map[string][]byte{
		"size below header":   unhex(t, "00000007 02 00 0000"),
		"doff below 2":        unhex(t, "00000008 01 00 0000"),
		"doff beyond size":    unhex(t, "00000008 03 00 0000"),
		"unknown frame type":  unhex(t, "00000008 02 05 0000"),
		"truncated header":    good[:5],
		"truncated body":      good[:len(good)-1],
		"trailing bytes":      append(append([]byte{}, good...), 0),
		"bad body":            unhex(t, "0000000c 02 00 0000 00531945"),
		"bytes after a close": unhex(t, "0000000d 02 00 0000 0053184540"),
	}
	cases["trailing bytes"][3]++
	for name, in := range cases {
		_, err := NewFrameReader(bytes.NewReader(in), 512).ReadFrame()
		assert.Error(t, err, name)
	}
	_, err = NewFrameReader(bytes.NewReader(good[:len(good)-1]), 512).ReadFrame()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = NewFrameReader(bytes.NewReader(nil), 512).ReadFrame()
	assert.ErrorIs(t, err, io.EOF)
}

func TestSetMaxFrameSize(t *testing.T) {
	t.Parallel()
	payload := make([]byte, 600)
	b, err := AppendFrame(nil, Frame{Body: &Transfer{Handle: 0}, Payload: payload})
	require.NoError(t, err)
	fr := NewFrameReader(bytes.NewReader(append(append([]byte{}, b...), b...)), 0)
	_, err = fr.ReadFrame()
	assert.ErrorIs(t, err, ErrFrameTooLarge, "max is raised to 512, still below the frame")
	fr = NewFrameReader(bytes.NewReader(b), 512)
	fr.SetMaxFrameSize(uint32(len(b)))
	_, err = fr.ReadFrame()
	require.NoError(t, err, "a frame of exactly the maximum size is accepted")
}

// stingyReader returns a fixed prefix and then EOF.
type stingyReader struct{ data []byte }

func (r *stingyReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestFrameReaderAllocatesWhatArrives declares a 1 GiB frame (within a
// 2 GiB maximum) but sends only a few bytes: the reader must fail without
// allocating anywhere near the declared size.
func TestFrameReaderAllocatesWhatArrives(t *testing.T) {
	in := append(unhex(t, "40000000 02 00 0000"), make([]byte, 100)...)
	allocated := bytesAllocated(func() {
		_, err := NewFrameReader(&stingyReader{data: in}, 1<<31).ReadFrame()
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	assert.Less(t, allocated, uint64(1<<20))
}

func TestProtocolHeader(t *testing.T) {
	t.Parallel()
	h := ProtocolHeader{ID: ProtocolSASL, Major: 1}
	b := h.Bytes()
	assert.Equal(t, []byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}, b[:])
	got, err := ReadProtocolHeader(bytes.NewReader(b[:]))
	require.NoError(t, err)
	assert.Equal(t, h, got)

	_, err = ReadProtocolHeader(bytes.NewReader([]byte("HTTP/1.1")))
	assert.Error(t, err)
	_, err = ReadProtocolHeader(bytes.NewReader([]byte("AMQ")))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
