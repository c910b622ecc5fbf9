package amqp

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no input panics and that anything which
// decodes re-encodes to bytes that decode again and re-encode identically
// (the encoder normalises to compact forms, so the first re-encoding may
// differ from the input, but it is a fixed point from then on).

func FuzzDecodeValue(f *testing.F) {
	for _, seed := range [][]byte{{0x40}, {0x45}, nestedLists(3), {0x00, 0x53, 0x24, 0x45}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := DecodeValue(data)
		if err != nil {
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		e1, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("decoded %#v does not re-encode: %v", v, err)
		}
		v2, n2, err := DecodeValue(e1)
		if err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", e1, err)
		}
		if n2 != len(e1) {
			t.Fatalf("re-encoded value consumed %d of %d bytes", n2, len(e1))
		}
		e2, err := AppendValue(nil, v2)
		if err != nil {
			t.Fatalf("second re-encoding failed: %v", err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("re-encoding not stable:\n% x\n% x", e1, e2)
		}
		if !equalAMQP(v, v2) {
			t.Fatalf("value changed in a round trip:\n%#v\n%#v", v, v2)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	for _, body := range allBodies() {
		b, err := AppendFrame(nil, Frame{Type: frameTypeOf(body), Body: body})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 8, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = DecodeFrameBody(data)
		fr := NewFrameReader(bytes.NewReader(data), 4096)
		for {
			fr1, err := fr.ReadFrame()
			if err != nil {
				return
			}
			_ = fr1.String()
			e1, err := AppendFrame(nil, fr1)
			if err != nil {
				t.Fatalf("frame %v does not re-encode: %v", fr1, err)
			}
			fr2, err := NewFrameReader(bytes.NewReader(e1), 1<<20).ReadFrame()
			if err != nil {
				t.Fatalf("re-encoded frame % x does not read: %v", e1, err)
			}
			e2, err := AppendFrame(nil, fr2)
			if err != nil {
				t.Fatalf("second re-encoding failed: %v", err)
			}
			if !bytes.Equal(e1, e2) {
				t.Fatalf("frame re-encoding not stable:\n% x\n% x", e1, e2)
			}
			if !equalAMQP(fr1, fr2) {
				t.Fatalf("frame changed in a round trip:\n%v\n%v", fr1, fr2)
			}
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	m := sampleMessage(f)
	b, err := AppendMessage(nil, m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		_, _ = m.Data()
		_, _ = m.Value()
		_, _ = SplitBatch(m)
		e1, err := AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		m2, err := DecodeMessage(e1)
		if err != nil {
			t.Fatalf("re-encoded message % x does not decode: %v", e1, err)
		}
		e2, err := AppendMessage(nil, m2)
		if err != nil {
			t.Fatalf("second re-encoding failed: %v", err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("message re-encoding not stable:\n% x\n% x", e1, e2)
		}
		if !equalAMQP(m, m2) {
			t.Fatalf("message changed in a round trip:\n%#v\n%#v", m, m2)
		}
	})
}

func frameTypeOf(b Body) uint8 {
	if isSASL(b) {
		return FrameTypeSASL
	}
	return FrameTypeAMQP
}
