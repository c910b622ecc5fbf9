package amqp_test

import (
	"bytes"
	"fmt"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

func ExampleAppendFrame() {
	b, err := amqp.AppendFrame(nil, amqp.Frame{
		Type: amqp.FrameTypeAMQP,
		Body: &amqp.Open{ContainerID: "c", MaxFrameSize: 512, ChannelMax: 1},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)
	// Output: 00 00 00 1a 02 00 00 00 00 53 10 c0 0d 04 a1 01 63 40 70 00 00 02 00 60 00 01
}

func ExampleFrameReader() {
	var wire []byte
	wire, _ = amqp.AppendFrame(wire, amqp.Frame{Channel: 1, Body: &amqp.Detach{Handle: 2, Closed: true,
		Error: &amqp.Error{Condition: "amqp:link:detach-forced"}}})
	wire, _ = amqp.AppendFrame(wire, amqp.Frame{}) // heartbeat

	fr := amqp.NewFrameReader(bytes.NewReader(wire), 65536)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		fmt.Println(f)
	}
	// Output:
	// AMQP frame ch=1 Detach{handle=2 closed=true error=Error{condition=amqp:link:detach-forced}}
	// AMQP frame ch=0 heartbeat
}

func ExampleDecodeMessage() {
	in := &amqp.Message{
		Header:     &amqp.Header{Priority: 4},
		Properties: &amqp.Properties{MessageID: "m1"},
		MessageAnnotations: amqp.Map{
			{Key: amqp.Symbol("x-opt-sequence-number"), Value: int64(1)},
		},
	}
	in.SetData([]byte("hello"))
	wire, err := amqp.AppendMessage(nil, in)
	if err != nil {
		panic(err)
	}

	m, err := amqp.DecodeMessage(wire)
	if err != nil {
		panic(err)
	}
	seq, _ := m.MessageAnnotations.Get(amqp.Symbol("x-opt-sequence-number"))
	data, _ := m.Data()
	fmt.Printf("%v %T %d %s\n", m.Properties.MessageID, seq, m.Header.DeliveryCount, data[0])
	// Output: m1 int64 0 hello
}

func ExampleSplitBatch() {
	envelope := &amqp.Message{}
	var body []byte
	for _, id := range []string{"a", "b"} {
		m := &amqp.Message{Properties: &amqp.Properties{MessageID: id}}
		m.SetData([]byte("payload " + id))
		enc, _ := amqp.AppendMessage(nil, m)
		section := &amqp.Message{}
		section.SetData(enc) // one data section holding one whole message
		body = append(body, section.RawBody...)
	}
	envelope.RawBody = body

	msgs, err := amqp.SplitBatch(envelope)
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		data, _ := m.Data()
		fmt.Printf("%v: %s\n", m.Properties.MessageID, data[0])
	}
	// Output:
	// a: payload a
	// b: payload b
}

func ExampleMessage_SetValue() {
	resp := &amqp.Message{
		Properties:            &amqp.Properties{CorrelationID: "req-1"},
		ApplicationProperties: amqp.Map{{Key: "statusCode", Value: int32(200)}},
	}
	if err := resp.SetValue(amqp.Map{
		{Key: "sequence-numbers", Value: amqp.NewArray(amqp.TypeCodeLong, int64(7), int64(8))},
	}); err != nil {
		panic(err)
	}
	v, _ := resp.Value()
	seqs, _ := v.(amqp.Map).Get("sequence-numbers")
	fmt.Printf("%#x %v\n", byte(seqs.(amqp.Array).Code), seqs.(amqp.Array).Values)
	// Output: 0x81 [7 8]
}
