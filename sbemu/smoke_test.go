package sbemu

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	lvl := slog.LevelInfo
	if os.Getenv("SBEMU_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	srv, err := NewServer(&Options{TB: t, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))})
	require.NoError(t, err)
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer client.Close(ctx)
	sender, err := client.NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("hello")}, nil))
	recv, err := client.NewReceiverForQueue(DefaultQueueName, nil)
	require.NoError(t, err)
	msgs, err := recv.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "hello", string(msgs[0].Body))
	require.NoError(t, recv.CompleteMessage(ctx, msgs[0], nil))
}
