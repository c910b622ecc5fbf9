package dlq

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// FuzzNewEntry feeds arbitrary dead-lettered bodies, content types and
// reasons through NewEntry and WriteTable: no panic, a user id only from a
// valid body, and a table free of control characters.
func FuzzNewEntry(f *testing.F) {
	f.Add([]byte(`{"userId":"alice@contoso.com"}`), "application/json", "GraphRejected")
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"userId":"bob@contoso.com"}}`), "application/cloudevents+json", "UserNotFound")
	f.Add([]byte("\xff\xfe"), "", "Invalid\x1b[31mMessage")
	f.Add([]byte(`{"userId":"a\u0000b"}`), "text/plain", "")
	f.Fuzz(func(t *testing.T, body []byte, contentType, reason string) {
		seq := int64(len(body))
		now := time.Unix(0, 0)
		m := &azservicebus.ReceivedMessage{
			MessageID: reason, Body: body, ContentType: &contentType, DeadLetterReason: &reason,
			DeadLetterErrorDescription: &reason, SequenceNumber: &seq, EnqueuedTime: &now,
		}
		e := NewEntry(m)
		if e.Invalid != "" && e.UserID != "" {
			t.Fatalf("user id %q from an invalid body", e.UserID)
		}
		if e.Invalid == "" && e.UserID == "" {
			t.Fatal("valid body without user id")
		}
		var b bytes.Buffer
		if err := WriteTable(&b, []Entry{e}); err != nil {
			t.Fatal(err)
		}
		for _, r := range strings.TrimSuffix(b.String(), "\n") {
			if r == '\n' {
				continue
			}
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("control character %U in table", r)
			}
		}
		if strings.Count(b.String(), "\n") != 2 {
			t.Fatalf("table has %d lines, want 2", strings.Count(b.String(), "\n"))
		}
	})
}

// FuzzParseTime checks that ParseTime never panics and that a duration
// never lies in the future.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"24h", "7d", "2026-11-28T09:30:00Z", "-1h", "9999999999d", "1e3h"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err != nil {
			return
		}
		if _, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); perr != nil && got.After(now) {
			t.Fatalf("duration %q gave a future time %s", s, got)
		}
	})
}
