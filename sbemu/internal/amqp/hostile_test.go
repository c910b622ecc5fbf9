package amqp

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bytesAllocated reports the heap bytes allocated while f runs. Callers
// must not be parallel tests, so that nothing else allocates meanwhile.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAbsurdCountsDoNotAllocate declares billions of elements in a handful
// of bytes; decoding must fail before allocating for them.
func TestAbsurdCountsDoNotAllocate(t *testing.T) {
	cases := map[string]string{
		"list32":           "d0 00000008 ffffffff 40 40 40 40",
		"list32 size":      "d0 fffffff0 ffffffff 40",
		"map32":            "d1 00000008 fffffffe 40 40 40 40",
		"array32 long":     "f0 00000009 ffffffff 81 0000",
		"array32 nulls":    "f0 00000005 ffffffff 40",
		"array32 true":     "f0 00000005 ffffffff 41",
		"array32 list0":    "f0 00000005 ffffffff 45",
		"vbin32":           "b0 ffffffff 00",
		"str32":            "b1 7fffffff 00",
		"list8 count":      "c0 02 ff 40",
		"array8 uint0":     "e0 02 ff 43",
		"symbol array":     "00 53 10 c0 0c 04 a1 00 40 43 43 f0 ffffffff ffffffff a3",
		"frame properties": "00 53 10 c0 0c 0a a1 00 40 40 40 40 40 40 40 40 d1 00000008 ffffffff",
	}
	for name, h := range cases {
		in := unhex(t, h)
		allocated := bytesAllocated(func() {
			_, _, err := DecodeValue(in)
			assert.Error(t, err, name)
			_, _, err = DecodeFrameBody(in)
			assert.Error(t, err, name)
			_, err = DecodeMessage(append([]byte{0x00, 0x53, 0x77}, in...))
			assert.Error(t, err, name)
		})
		assert.Less(t, allocated, uint64(64<<10), name)
	}
}

// nested wraps a null in depth compound values with correct 32-bit sizes.
// kind is list, map, array (an array of one list per level) or described.
// Each level adds a prefix (which depends on the length so far) and
// possibly a trailer; the result is the prefixes outermost first, the
// leaf, then the trailers innermost first.
func nested(kind string, depth int) []byte {
	var prefixes [][]byte
	var trailers []byte
	length := 1 // the leaf null
	for range depth {
		var head []byte
		switch kind {
		case "list":
			head = binary.BigEndian.AppendUint32([]byte{byte(TypeCodeList32)}, uint32(length+4))
			head = binary.BigEndian.AppendUint32(head, 1)
		case "map":
			trailers = append(trailers, byte(TypeCodeNull))
			length++
			head = binary.BigEndian.AppendUint32([]byte{byte(TypeCodeMap32)}, uint32(length+4))
			head = binary.BigEndian.AppendUint32(head, 2)
		case "array":
			content := length + 8 // the list element's size and count, then its content
			head = binary.BigEndian.AppendUint32([]byte{byte(TypeCodeArray32)}, uint32(content+5))
			head = binary.BigEndian.AppendUint32(head, 1)
			head = append(head, byte(TypeCodeList32))
			head = binary.BigEndian.AppendUint32(head, uint32(length+4))
			head = binary.BigEndian.AppendUint32(head, 1)
		case "described":
			head = []byte{0x00, byte(TypeCodeSmallUlong), 0x99}
		}
		prefixes = append(prefixes, head)
		length += len(head)
	}
	out := make([]byte, 0, length)
	for i := len(prefixes) - 1; i >= 0; i-- {
		out = append(out, prefixes[i]...)
	}
	out = append(out, byte(TypeCodeNull))
	return append(out, trailers...)
}

func nestedLists(depth int) []byte { return nested("list", depth) }

// TestDeepNesting feeds 10,000 nested lists, maps, arrays and described
// values; each must be an error, not a stack overflow.
func TestDeepNesting(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{
		"lists":       nested("list", 10000),
		"maps":        nested("map", 10000),
		"arrays":      nested("array", 10000),
		"described":   nested("described", 10000),
		"descriptors": append(bytes.Repeat([]byte{0x00}, 10000), 0x40),
		// Sizes that lie (too large) fail on the size check or on depth.
		"lists8 lying": append(bytes.Repeat([]byte{0xc0, 0xff, 0x01}, 10000), 0x40),
		"errors lying": bytes.Repeat([]byte{0x00, 0x53, 0x25, 0xc0, 0xff, 0x01, 0x00, 0x53, 0x1d, 0xc0, 0xff, 0x03, 0xa3, 0x00, 0x40}, 5000),
	}
	for name, in := range inputs {
		_, _, err := DecodeValue(in)
		if strings.HasSuffix(name, "lying") {
			assert.Error(t, err, name)
		} else {
			assert.ErrorIs(t, err, ErrTooDeep, name)
		}
		_, _, err = DecodeFrameBody(append([]byte{0x00, 0x53, 0x10, 0xc0, 0xff, 0x0a, 0xa1, 0x00, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0xd1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0x40}, in...))
		assert.Error(t, err, name)
		_, err = DecodeMessage(append([]byte{0x00, 0x53, 0x77}, in...))
		assert.Error(t, err, name)
	}
}

// TestDepthLimitIsExact accepts MaxDepth nested lists and refuses one more,
// and the encoder agrees with the decoder.
func TestDepthLimitIsExact(t *testing.T) {
	t.Parallel()
	_, _, err := DecodeValue(nestedLists(MaxDepth))
	require.NoError(t, err)
	_, _, err = DecodeValue(nestedLists(MaxDepth + 1))
	require.ErrorIs(t, err, ErrTooDeep)

	var v any = "leaf"
	for range MaxDepth {
		v = []any{v}
	}
	b, err := AppendValue(nil, v)
	require.NoError(t, err)
	_, _, err = DecodeValue(b)
	require.NoError(t, err)
	_, err = AppendValue(nil, []any{v})
	require.ErrorIs(t, err, ErrTooDeep)
}

// TestTruncatedEverywhere cuts valid encodings at every length; each prefix
// must fail cleanly (or, for frame bodies, decode a shorter valid prefix
// with the rest left over, which cannot happen for a complete list).
func TestTruncatedEverywhere(t *testing.T) {
	t.Parallel()
	var full [][]byte
	for _, body := range allBodies() {
		b, err := EncodeFrameBody(nil, body)
		require.NoError(t, err)
		full = append(full, b)
	}
	msg, err := AppendMessage(nil, sampleMessage(t))
	require.NoError(t, err)
	for _, b := range full {
		for n := range len(b) {
			_, _, err := DecodeFrameBody(b[:n])
			require.Error(t, err, "%x", b[:n])
			_, _, err = DecodeValue(b[:n])
			require.Error(t, err, "%x", b[:n])
		}
	}
	for n := 1; n < len(msg); n++ {
		m, err := DecodeMessage(msg[:n])
		if err == nil {
			// A cut between two sections is a valid, shorter message.
			again, err := AppendMessage(nil, m)
			require.NoError(t, err)
			assert.Equal(t, msg[:n], again)
		}
	}
	frame, err := AppendFrame(nil, Frame{Body: &Transfer{Handle: 1}, Payload: []byte("abc")})
	require.NoError(t, err)
	for n := range len(frame) {
		_, err := NewFrameReader(bytes.NewReader(frame[:n]), 512).ReadFrame()
		require.Error(t, err)
	}
}
