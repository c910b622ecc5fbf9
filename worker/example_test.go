package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
)

// Example runs the worker against the Service Bus emulator and the Graph
// simulator: one message in, one Graph call, the message completed.
func Example() {
	sb, err := sbemu.NewServer(&sbemu.Options{})
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	gs, err := graphsim.NewServer(graphsim.Options{})
	if err != nil {
		panic(err)
	}
	defer gs.Close()

	ctx := context.Background()
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		panic(err)
	}
	defer client.Close(ctx)
	sender, _ := client.NewSender(sbemu.DefaultQueueName, nil)
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte(`{"userId":"adele@contoso.com"}`)}, nil); err != nil {
		panic(err)
	}

	receiver, _ := client.NewReceiverForQueue(sbemu.DefaultQueueName, nil)
	gc, err := graph.New(graph.Config{RootURL: gs.URL, Auth: graph.AuthNone})
	if err != nil {
		panic(err)
	}
	w, err := worker.New(worker.Config{Concurrency: 4}, worker.Deps{Receiver: receiver, Graph: gc})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	// Wait until the queue is empty, then stop as SIGTERM would.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s, err := sb.QueueStats(sbemu.DefaultQueueName); err == nil && s.Active+s.Locked == 0 && gs.Calls("adele@contoso.com") > 0 {
			break
		}
	}
	stop()
	fmt.Println("run:", <-done)
	fmt.Println("graph calls:", gs.Calls("adele@contoso.com"))
	// Output:
	// run: <nil>
	// graph calls: 1
}

// ExampleReasons lists the closed set of dead-letter reasons.
func ExampleReasons() {
	for _, r := range worker.Reasons() {
		fmt.Println(r)
	}
	// Output:
	// InvalidMessage
	// UserNotFound
	// GraphRejected
	// RetriesExhausted
}
