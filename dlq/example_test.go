package dlq_test

import (
	"fmt"
	"os"
	"time"

	"github.com/licensefix/licensefix/dlq"
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
