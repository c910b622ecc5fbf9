package amqp

import (
	"bytes"
	"testing"
)

func BenchmarkAppendMessage(b *testing.B) {
	m := sampleMessage(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMessage(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeMessage(b *testing.B) {
	enc, err := AppendMessage(nil, sampleMessage(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessage(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func transferFrame(b *testing.B) Frame {
	payload, err := AppendMessage(nil, sampleMessage(b))
	if err != nil {
		b.Fatal(err)
	}
	return Frame{Type: FrameTypeAMQP, Channel: 1, Body: &Transfer{
		Handle: 0, DeliveryID: ptr(uint32(1234)), DeliveryTag: make([]byte, 16), MessageFormat: ptr(uint32(0)), Settled: ptr(false),
	}, Payload: payload}
}

func BenchmarkAppendTransferFrame(b *testing.B) {
	f := transferFrame(b)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendFrame(buf[:0], f); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkReadTransferFrame(b *testing.B) {
	enc, err := AppendFrame(nil, transferFrame(b))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(enc)
	fr := NewFrameReader(r, 65536)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(enc)
		if _, err := fr.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTransferBody(b *testing.B) {
	enc, err := EncodeFrameBody(nil, transferFrame(b).Body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeFrameBody(enc); err != nil {
			b.Fatal(err)
		}
	}
}
