package amqp

// Function contract. The codec helper replaces these stubs with the real
// implementation in its own files and deletes this file.

import (
	"errors"
	"io"
)

var errUnimplemented = errors.New("amqp: not implemented yet")

// Get returns the value stored under key (compared by AMQP type and value;
// []byte keys by content) and whether it was present.
func (m Map) Get(key any) (any, bool) { panic(errUnimplemented) }

// Set replaces the value under key, or appends the pair when key is absent.
func (m *Map) Set(key, value any) { panic(errUnimplemented) }

// Delete removes key if present.
func (m *Map) Delete(key any) { panic(errUnimplemented) }

// String formats u as 8-4-4-4-12 lowercase hex.
func (u UUID) String() string { panic(errUnimplemented) }

// NewArray returns an array of values sharing the element type code.
func NewArray(code TypeCode, values ...any) Array { return Array{Code: code, Values: values} }

// AppendValue appends the AMQP encoding of v to b. Supported Go types: nil,
// bool, uint8/16/32/64, int8/16/32/64, float32/64, Decimal32/64/128, Char,
// time.Time (timestamp), UUID, []byte (binary), string, Symbol, []any (list),
// Map, Array, Described, []Symbol (array of symbols), *Error and the
// delivery states. Anything else is an error.
func AppendValue(b []byte, v any) ([]byte, error) { panic(errUnimplemented) }

// DecodeValue decodes one value from the front of b and returns it with the
// number of bytes consumed. Described values with a known descriptor (error,
// delivery states, source, target) decode to their structs; others to
// Described. Declared sizes and counts are checked against len(b) before any
// allocation; nesting deeper than MaxDepth is an error.
func DecodeValue(b []byte) (v any, n int, err error) { panic(errUnimplemented) }

// MaxDepth is the deepest nesting of compound values DecodeValue accepts.
const MaxDepth = 64

// Bytes returns the 8-byte wire form of h.
func (h ProtocolHeader) Bytes() [8]byte { panic(errUnimplemented) }

// ReadProtocolHeader reads and parses the 8-byte protocol header.
func ReadProtocolHeader(r io.Reader) (ProtocolHeader, error) { panic(errUnimplemented) }

// FrameReader reads frames, refusing any frame larger than its maximum size
// before allocating for it.
type FrameReader struct{}

// NewFrameReader returns a FrameReader over r accepting frames up to maxFrameSize bytes.
func NewFrameReader(r io.Reader, maxFrameSize uint32) *FrameReader { panic(errUnimplemented) }

// SetMaxFrameSize changes the largest accepted frame.
func (fr *FrameReader) SetMaxFrameSize(n uint32) { panic(errUnimplemented) }

// ReadFrame reads one frame. An empty frame (heartbeat) has a nil Body.
func (fr *FrameReader) ReadFrame() (Frame, error) { panic(errUnimplemented) }

// AppendFrame appends the wire encoding of f (header, extended header, body, payload) to b.
func AppendFrame(b []byte, f Frame) ([]byte, error) { panic(errUnimplemented) }

// EncodeFrameBody appends the described-list encoding of a frame body.
func EncodeFrameBody(b []byte, body Body) ([]byte, error) { panic(errUnimplemented) }

// DecodeFrameBody decodes a frame body from b, returning the rest (the transfer payload).
func DecodeFrameBody(b []byte) (body Body, rest []byte, err error) { panic(errUnimplemented) }

// AppendMessage appends the encoding of m (header, delivery-annotations,
// message-annotations, properties, application-properties, then RawBody).
func AppendMessage(b []byte, m *Message) ([]byte, error) { panic(errUnimplemented) }

// DecodeMessage decodes an encoded message. Sections after
// application-properties are kept verbatim in RawBody.
func DecodeMessage(b []byte) (*Message, error) { panic(errUnimplemented) }

// Data returns the payloads of the message's data sections, in order.
func (m *Message) Data() ([][]byte, error) { panic(errUnimplemented) }

// Value decodes an amqp-value body section.
func (m *Message) Value() (any, error) { panic(errUnimplemented) }

// SetValue makes the body a single amqp-value section holding v.
func (m *Message) SetValue(v any) error { panic(errUnimplemented) }

// SetData makes the body a single data section holding p.
func (m *Message) SetData(p []byte) { panic(errUnimplemented) }

// SplitBatch decodes every data section of a batch envelope (message format
// BatchMessageFormat) as a complete message.
func SplitBatch(envelope *Message) ([]*Message, error) { panic(errUnimplemented) }
