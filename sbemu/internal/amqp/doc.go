// Package amqp is the AMQP 1.0 codec of the Service Bus emulator: the type
// system (Part 1 of the specification), frames and performatives (Part 2),
// messages (Part 3) and SASL frame bodies (Part 5).
//
// # Encoding
//
// Encoding is append-style (AppendValue, AppendFrame, EncodeFrameBody,
// AppendMessage) and allocation-free into a buffer with room. It always
// picks the most compact form a value fits in (uint0/smalluint, list0/list8,
// str8, ...). Performatives and other described lists are written with
// trailing absent fields trimmed; a field is absent when its Go value is
// the zero value (empty string, nil pointer/slice/map, false, 0 for fields
// whose default is 0). Numeric fields whose default is not zero
// (Open.MaxFrameSize, Open.ChannelMax, Begin.HandleMax, Header.Priority)
// are always written as given, so set them. Header is always written with
// all five fields; a TTL of 0 (none) is null in its slot, delivery-count is
// present even when 0.
//
// # Decoding
//
// Decoding (DecodeValue, DecodeFrameBody, DecodeMessage, FrameReader)
// accepts every wire form the specification allows and maps values to the
// Go types listed on AppendValue. Absent or null fields get the spec
// defaults (Open.MaxFrameSize 4294967295, Open.ChannelMax 65535,
// Begin.HandleMax 4294967295, Header.Priority 4, terminus expiry policy
// session-end). Descriptors may be numeric or symbolic. Decoding is lenient
// where it costs nothing: unsigned fields take any unsigned encoding whose
// value fits, string fields take symbols and vice versa. Missing mandatory
// fields and unknown frame-body descriptors are errors.
//
// Input is treated as hostile: every declared size and count is checked
// against the bytes actually present before anything is allocated, nesting
// is limited to MaxDepth, FrameReader refuses frames above its maximum size
// before reading them, and no input makes the codec panic (it is fuzzed;
// see the Fuzz targets and testdata/fuzz).
//
// Byte slices in decoded values are copies, except Frame.Payload (which
// shares the frame's own freshly allocated buffer) and the slices returned
// by Message.Data (which share Message.RawBody).
package amqp
