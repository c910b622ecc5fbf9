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
