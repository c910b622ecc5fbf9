package sbemu

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"
)

// benchEnv is a server with one queue and a connected SDK client.
func benchEnv(b *testing.B) (*Server, *azservicebus.Client, *azservicebus.Sender) {
	srv, err := NewServer(&Options{TB: b})
	require.NoError(b, err)
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = client.Close(context.Background()) })
	sender, err := client.NewSender(DefaultQueueName, nil)
	require.NoError(b, err)
	return srv, client, sender
}

// sendBatches sends n messages of size bytes in batches of up to 100.
func sendBatches(b *testing.B, sender *azservicebus.Sender, n, size int) {
	ctx := context.Background()
	payload := make([]byte, size)
	for n > 0 {
		batch, err := sender.NewMessageBatch(ctx, nil)
		require.NoError(b, err)
		k := min(n, 100)
		for range k {
			require.NoError(b, batch.AddMessage(&azservicebus.Message{Body: payload}, nil))
		}
		require.NoError(b, sender.SendMessageBatch(ctx, batch, nil))
		n -= k
	}
}

// BenchmarkSendBatch measures enqueue throughput: batches of 100 messages
// of 256 bytes through the SDK.
func BenchmarkSendBatch(b *testing.B) {
	_, _, sender := benchEnv(b)
	const perBatch = 100
	sendBatches(b, sender, perBatch, 256) // warm up links and CBS
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		sendBatches(b, sender, perBatch, 256)
	}
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPeekLockReceiveComplete measures peek-lock receive plus
// complete throughput (up to 100 messages per ReceiveMessages call).
func BenchmarkPeekLockReceiveComplete(b *testing.B) {
	_, client, sender := benchEnv(b)
	receiver, err := client.NewReceiverForQueue(DefaultQueueName, nil)
	require.NoError(b, err)
	ctx := context.Background()
	sendBatches(b, sender, 1, 256)
	warm, err := receiver.ReceiveMessages(ctx, 1, nil)
	require.NoError(b, err)
	require.NoError(b, receiver.CompleteMessage(ctx, warm[0], nil))

	const n = 2000
	b.ResetTimer()
	var total int
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		sendBatches(b, sender, n, 256)
		b.StartTimer()
		start := time.Now()
		for got := 0; got < n; {
			msgs, err := receiver.ReceiveMessages(ctx, min(100, n-got), nil)
			require.NoError(b, err)
			for _, m := range msgs {
				require.NoError(b, receiver.CompleteMessage(ctx, m, nil))
			}
			got += len(msgs)
		}
		elapsed += time.Since(start)
		total += n
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}
