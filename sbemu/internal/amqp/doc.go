// Package amqp is the AMQP 1.0 codec of the Service Bus emulator: the type
// system (Part 1 of the specification), frames and performatives (Part 2),
// messages (Part 3) and SASL frame bodies (Part 5).
//
// Encoding is append-style (AppendValue, AppendFrame, AppendMessage) and
// always picks the most compact encoding a value fits in. Decoding
// (DecodeValue, DecodeFrameBody, DecodeMessage, FrameReader) accepts every
// wire form the specification allows, maps values to the Go types listed on
// AppendValue, and treats its input as hostile: every declared size and
// count is checked against the bytes actually present before anything is
// allocated, nesting is limited to MaxDepth, and no input makes it panic.
//
// Byte slices in decoded values are copies, except Frame.Payload (which
// shares the frame's own freshly allocated buffer) and the slices returned by
// Message.Data (which share Message.RawBody).
package amqp
