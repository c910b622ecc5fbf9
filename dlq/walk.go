package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// activeWalk receives the dead-letter queue's active messages one at a
// time, in sequence order, until every selected sequence number has been
// handled. A selected message goes to take. Any other message received first
// stood before a match: it is deferred, which keeps its sequence number and
// delivery count and lets the walk go on past it. Replay and purge share it.
type activeWalk struct {
	dl             DeadLetterReceiver
	receiveTimeout time.Duration
	settleTimeout  time.Duration
	logger         *slog.Logger
	// beforeReceive, when set, runs before each receive (replay paces
	// there, so that no wait runs while a lock is held).
	beforeReceive func(ctx context.Context, pending map[int64]bool) error
	// take handles the message received for the selected sequence number
	// seq. An error ends the walk.
	take func(ctx context.Context, seq int64, m *azservicebus.ReceivedMessage) error
	// fail records every pending sequence number as not handled, for err.
	fail func(pending map[int64]bool, err error)
	// deferred collects the sequence numbers deferred on the way.
	deferred *[]int64
}

// run walks to every sequence number in seqs. It returns ctx's error when
// ctx ends first, or take's; a selected message that cannot be reached is
// recorded through fail and ends the walk without an error.
func (a activeWalk) run(ctx context.Context, seqs []int64) error {
	pending := map[int64]bool{}
	for _, s := range seqs {
		pending[s] = true
	}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a.beforeReceive != nil {
			if err := a.beforeReceive(ctx, pending); err != nil {
				return err
			}
		}
		rctx, cancel := context.WithTimeout(ctx, a.receiveTimeout)
		msgs, err := a.dl.ReceiveMessages(rctx, 1, nil)
		cancel()
		if len(msgs) == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("not received within %s (locked by another receiver, or removed)", a.receiveTimeout)
			}
			a.fail(pending, err)
			return nil
		}
		// A message received is handled even when ctx ended meanwhile, so
		// that it is not left locked.
		m := msgs[0]
		seq := int64(-1)
		if m.SequenceNumber != nil {
			seq = *m.SequenceNumber
		}
		if pending[seq] {
			delete(pending, seq)
			if err := a.take(ctx, seq, m); err != nil {
				return err
			}
			continue
		}
		// Not selected: set it aside. This runs even after Ctrl-C.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), a.settleTimeout)
		err = a.dl.DeferMessage(sctx, m, nil)
		scancel()
		if err != nil {
			a.fail(pending, fmt.Errorf("could not set aside non-matching message %d: %w", seq, err))
			return nil
		}
		*a.deferred = append(*a.deferred, seq)
		a.logger.DebugContext(ctx, "dlq_deferred_non_matching", slog.Int64("sequence_number", seq))
		if seq > slices.Max(slices.Collect(maps.Keys(pending))) {
			// Every pending match has a lower sequence number yet was not
			// delivered first, so it is locked elsewhere or gone.
			a.fail(pending, errors.New("not available (locked by another receiver, or removed)"))
			return nil
		}
	}
	return nil
}
