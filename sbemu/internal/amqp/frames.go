package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Bytes returns the 8-byte wire form of h.
func (h ProtocolHeader) Bytes() [8]byte {
	return [8]byte{'A', 'M', 'Q', 'P', h.ID, h.Major, h.Minor, h.Revision}
}

// ReadProtocolHeader reads and parses the 8-byte protocol header. Input that
// does not start with "AMQP" is an error.
func ReadProtocolHeader(r io.Reader) (ProtocolHeader, error) {
	var p [8]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return ProtocolHeader{}, err
	}
	if string(p[:4]) != "AMQP" {
		return ProtocolHeader{}, fmt.Errorf("amqp: not an AMQP protocol header: % x", p[:4])
	}
	return ProtocolHeader{ID: p[4], Major: p[5], Minor: p[6], Revision: p[7]}, nil
}

// frameHeaderSize is the size of the fixed frame header.
const frameHeaderSize = 8

// MinMaxFrameSize is the smallest maximum frame size AMQP allows (512);
// FrameReader never accepts less.
const MinMaxFrameSize = 512

// ErrFrameTooLarge reports a frame whose declared size exceeds the maximum.
var ErrFrameTooLarge = errors.New("amqp: frame larger than the maximum frame size")

// readChunk bounds how much FrameReader allocates ahead of the bytes
// actually received.
const readChunk = 64 << 10

// FrameReader reads frames, refusing any frame larger than its maximum size
// before allocating for it. Each frame gets a buffer of its own, so a
// Frame's Payload stays valid after the next ReadFrame. A FrameReader is
// for one goroutine at a time.
type FrameReader struct {
	r   io.Reader
	max uint32
	hdr [frameHeaderSize]byte
}

// NewFrameReader returns a FrameReader over r accepting frames up to
// maxFrameSize bytes (at least MinMaxFrameSize).
func NewFrameReader(r io.Reader, maxFrameSize uint32) *FrameReader {
	fr := &FrameReader{r: r}
	fr.SetMaxFrameSize(maxFrameSize)
	return fr
}

// SetMaxFrameSize changes the largest accepted frame; values below
// MinMaxFrameSize are raised to it.
func (fr *FrameReader) SetMaxFrameSize(n uint32) {
	fr.max = max(n, MinMaxFrameSize)
}

// ReadFrame reads one frame. An empty frame (heartbeat) has a nil Body. The
// extended header is skipped. A clean end of input before a frame starts is
// io.EOF; end of input inside a frame is io.ErrUnexpectedEOF.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return Frame{}, err
	}
	size := binary.BigEndian.Uint32(fr.hdr[0:4])
	doff := fr.hdr[4]
	f := Frame{Type: fr.hdr[5], Channel: binary.BigEndian.Uint16(fr.hdr[6:8])}
	switch {
	case size < frameHeaderSize:
		return Frame{}, fmt.Errorf("amqp: frame size %d smaller than the frame header", size)
	case size > fr.max:
		return Frame{}, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, fr.max)
	case doff < 2:
		return Frame{}, fmt.Errorf("amqp: frame data offset %d below 2", doff)
	case uint32(doff)*4 > size:
		return Frame{}, fmt.Errorf("amqp: frame data offset %d beyond frame size %d", doff, size)
	case f.Type != FrameTypeAMQP && f.Type != FrameTypeSASL:
		return Frame{}, fmt.Errorf("amqp: unknown frame type %#02x", f.Type)
	}
	buf, err := fr.readBody(int(size - frameHeaderSize))
	if err != nil {
		return Frame{}, err
	}
	body := buf[int(doff)*4-frameHeaderSize:]
	if len(body) == 0 {
		return f, nil // heartbeat
	}
	if err := decodeFrameInto(&f, body); err != nil {
		return Frame{}, err
	}
	return f, nil
}

// readBody reads n bytes, growing the buffer as the bytes arrive so that a
// peer announcing a large frame and sending little costs little memory.
func (fr *FrameReader) readBody(n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		step := min(n-len(buf), max(readChunk, len(buf)))
		buf = slices.Grow(buf, step)
		m, err := io.ReadFull(fr.r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// decodeFrameInto decodes the body of f (a non-empty frame) and checks that
// it suits the frame type.
func decodeFrameInto(f *Frame, body []byte) error {
	b, rest, err := DecodeFrameBody(body)
	if err != nil {
		return err
	}
	if isSASL(b) != (f.Type == FrameTypeSASL) {
		return fmt.Errorf("amqp: %T not allowed in a frame of type %#02x", b, f.Type)
	}
	if _, ok := b.(*Transfer); ok {
		f.Payload = rest
	} else if len(rest) != 0 {
		return fmt.Errorf("amqp: %d unexpected bytes after %T", len(rest), b)
	}
	f.Body = b
	return nil
}

func isSASL(b Body) bool {
	switch b.(type) {
	case *SASLMechanisms, *SASLInit, *SASLChallenge, *SASLResponse, *SASLOutcome:
		return true
	}
	return false
}

// AppendFrame appends the wire encoding of f (header, extended header, body, payload) to b.
// A nil Body gives an empty (heartbeat) frame. The body must suit f.Type
// (SASL bodies in SASL frames, performatives in AMQP frames), and only a
// *Transfer may carry a Payload.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if f.Type != FrameTypeAMQP && f.Type != FrameTypeSASL {
		return b, fmt.Errorf("amqp: unknown frame type %#02x", f.Type)
	}
	if f.Body != nil && isSASL(f.Body) != (f.Type == FrameTypeSASL) {
		return b, fmt.Errorf("amqp: %T not allowed in a frame of type %#02x", f.Body, f.Type)
	}
	if _, ok := f.Body.(*Transfer); !ok && len(f.Payload) != 0 {
		return b, fmt.Errorf("amqp: payload on a %T frame", f.Body)
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, f.Type, byte(f.Channel>>8), byte(f.Channel))
	if f.Body != nil {
		var err error
		if b, err = EncodeFrameBody(b, f.Body); err != nil {
			return b[:start], err
		}
		b = append(b, f.Payload...)
	}
	size := len(b) - start
	if uint64(size) > math.MaxUint32 {
		return b[:start], errors.New("amqp: frame larger than 4 GiB")
	}
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	return b, nil
}

// EncodeFrameBody appends the described-list encoding of a frame body.
func EncodeFrameBody(b []byte, body Body) ([]byte, error) {
	switch v := body.(type) {
	case *Open:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Begin:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Attach:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Flow:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Transfer:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Disposition:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Detach:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *End:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *Close:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *SASLMechanisms:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *SASLInit:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *SASLChallenge:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *SASLResponse:
		if v != nil {
			return v.appendTo(b, 0)
		}
	case *SASLOutcome:
		if v != nil {
			return v.appendTo(b, 0)
		}
	}
	return b, fmt.Errorf("amqp: cannot encode frame body %T", body)
}

// DecodeFrameBody decodes a frame body from b, returning the rest (the
// transfer payload, sharing b's memory). An unknown descriptor is an error.
func DecodeFrameBody(b []byte) (body Body, rest []byte, err error) {
	d := decoder{b: b}
	code, err := d.descriptor()
	if err != nil {
		return nil, nil, frameBodyError(err)
	}
	switch code {
	case descOpen:
		body, err = decodeOpen(&d)
	case descBegin:
		body, err = decodeBegin(&d)
	case descAttach:
		body, err = decodeAttach(&d)
	case descFlow:
		body, err = decodeFlow(&d)
	case descTransfer:
		body, err = decodeTransfer(&d)
	case descDisposition:
		body, err = decodeDisposition(&d)
	case descDetach:
		body, err = decodeDetach(&d)
	case descEnd:
		body, err = decodeEnd(&d)
	case descClose:
		body, err = decodeClose(&d)
	case descSASLMechanisms:
		body, err = decodeSASLMechanisms(&d)
	case descSASLInit:
		body, err = decodeSASLInit(&d)
	case descSASLChallenge:
		body, err = decodeSASLChallenge(&d)
	case descSASLResponse:
		body, err = decodeSASLResponse(&d)
	case descSASLOutcome:
		body, err = decodeSASLOutcome(&d)
	default:
		return nil, nil, fmt.Errorf("amqp: unknown frame body descriptor %#x", code)
	}
	if err != nil {
		return nil, nil, frameBodyError(err)
	}
	return body, b[d.off:], nil
}

func frameBodyError(err error) error {
	return wrapError("frame body", err)
}

// wrapError prefixes err with the package name and context unless it
// already names the package.
func wrapError(context string, err error) error {
	if strings.HasPrefix(err.Error(), "amqp: ") && !errors.Is(err, ErrTruncated) && !errors.Is(err, errTooDeep) {
		return err
	}
	return fmt.Errorf("amqp: %s: %w", context, err)
}
