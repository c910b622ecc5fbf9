package dlq_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/sbemu"
)

func ExampleParseTime() {
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	for _, s := range []string{"24h", "7d", "2026-11-28T09:30:00+01:00"} {
		t, err := dlq.ParseTime(s, now)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(t.UTC().Format(time.RFC3339))
	}
	// Output:
	// 2026-11-27T18:00:00Z
	// 2026-11-21T18:00:00Z
	// 2026-11-28T08:30:00Z
}

func ExampleReplayMessageID() {
	// The first replay of the message at DLQ sequence number 42...
	first := dlq.ReplayMessageID("8d6c1f0e", 42, 1)
	fmt.Println(first)
	// ...and the second, after the copy was dead-lettered again at 57.
	fmt.Println(dlq.ReplayMessageID(first, 57, 2))
	// Output:
	// 8d6c1f0e-replay1-seq42
	// 8d6c1f0e-replay2-seq57
}

func ExampleFilter_Match() {
	f := dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}, UserIDs: []string{"alice@contoso.com"}}
	fmt.Println(f.Match(dlq.Entry{Reason: "UserNotFound", UserID: "Alice@Contoso.com"}))
	fmt.Println(f.Match(dlq.Entry{Reason: "GraphRejected", UserID: "alice@contoso.com"}))
	// Output:
	// true
	// false
}

func ExampleSummarize() {
	entries := []dlq.Entry{
		{Reason: dlq.ReasonGraphRejected, GraphErrorCode: "Request_BadRequest"},
		{Reason: dlq.ReasonGraphRejected, GraphErrorCode: "Request_BadRequest"},
		{Reason: dlq.ReasonInvalidMessage},
	}
	_ = dlq.WriteSummary(os.Stdout, dlq.Summarize(entries))
	// Output:
	// REASON                COUNT
	// GraphRejected         2
	//   Request_BadRequest  2
	// InvalidMessage        1
	// TOTAL                 3
}

// Example_replay dead-letters a message the way the worker does, lists the
// dead-letter queue, and replays it: first as a dry run, then for real.
func Example_replay() {
	ctx := context.Background()
	srv, err := sbemu.NewServer(nil) // one queue, "license-fixed"
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)

	// What the worker does with a user Graph does not know.
	sender, _ := client.NewSender("license-fixed", nil)
	defer sender.Close(ctx)
	id, contentType := "hr-4711", "application/json"
	_ = sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, ContentType: &contentType, Body: []byte(`{"userId":"alice@contoso.com"}`)}, nil)
	worker, _ := client.NewReceiverForQueue("license-fixed", nil)
	defer worker.Close(ctx)
	got, _ := worker.ReceiveMessages(ctx, 1, nil)
	reason := dlq.ReasonUserNotFound
	_ = worker.DeadLetterMessage(ctx, got[0], &azservicebus.DeadLetterOptions{
		Reason: &reason, PropertiesToModify: map[string]any{dlq.PropGraphErrorCode: "Request_ResourceNotFound"},
	})

	ep, err := dlq.Open(client, "license-fixed")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ep.Close(ctx)
	entries, _ := dlq.List(ctx, ep.DeadLetter, dlq.Filter{Reasons: []string{"UserNotFound"}}, nil)
	for _, e := range entries {
		fmt.Println(e.SequenceNumber, e.Reason, e.UserID, e.GraphErrorCode)
	}

	opts := dlq.ReplayOptions{Filter: dlq.Filter{Reasons: []string{"UserNotFound"}}, DryRun: true}
	rep, _ := dlq.Replay(ctx, ep, opts)
	fmt.Println(rep)
	for _, p := range rep.Planned {
		fmt.Println(p.MessageID, "->", p.NewMessageID)
	}
	opts.DryRun = false
	rep, _ = dlq.Replay(ctx, ep, opts)
	fmt.Println(rep)
	// Output:
	// 1 UserNotFound alice@contoso.com Request_ResourceNotFound
	// dry run: would replay 1, skipped 0
	// hr-4711 -> hr-4711-replay1-seq1
	// replayed 1, skipped 0, failed 0
}
