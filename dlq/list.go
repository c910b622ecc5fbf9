package dlq

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// Peeker browses an entity without locking anything. *azservicebus.Receiver
// implements it.
type Peeker interface {
	PeekMessages(ctx context.Context, maxMessageCount int, options *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}

var _ Peeker = (*azservicebus.Receiver)(nil)

// DefaultPageSize is how many messages one peek asks for.
const DefaultPageSize = 100

// ListOptions tunes List. nil means defaults.
type ListOptions struct {
	// Limit stops after this many matching entries; 0 means no limit.
	Limit int
	// PageSize is how many messages each peek asks for; default
	// DefaultPageSize.
	PageSize int
}

// List peeks the dead-letter queue from its first message to its last and
// returns the entries that match f, in sequence order. It never locks,
// removes or otherwise changes a message, so it is safe while a worker or a
// replay is running. Deferred messages are listed like the others.
func List(ctx context.Context, dlq Peeker, f Filter, opts *ListOptions) ([]Entry, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	var out []Entry
	err := peekAll(ctx, dlq, o.PageSize, func(m *azservicebus.ReceivedMessage) bool {
		e := NewEntry(m)
		if f.Match(e) {
			out = append(out, e)
		}
		return o.Limit <= 0 || len(out) < o.Limit
	})
	return out, err
}

// peekAll peeks every message in sequence order and calls visit for each
// until visit returns false.
func peekAll(ctx context.Context, p Peeker, pageSize int, visit func(*azservicebus.ReceivedMessage) bool) error {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	next := int64(1)
	for {
		from := next
		page, err := p.PeekMessages(ctx, pageSize, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			return fmt.Errorf("peek from sequence number %d: %w", from, err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, m := range page {
			if m.SequenceNumber != nil && *m.SequenceNumber >= next {
				next = *m.SequenceNumber + 1
			}
			if !visit(m) {
				return nil
			}
		}
		if next <= from {
			// A page without usable sequence numbers would loop forever.
			return fmt.Errorf("peek from sequence number %d: no progress", from)
		}
	}
}
