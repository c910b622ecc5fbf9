package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzOperations reads the input as a program of broker operations over a
// small namespace (duplicate detection, TTL with dead-lettering, forwarding,
// dead-letter forwarding) and checks after every step that the bookkeeping
// holds, that sequence numbers only grow, that no expired or locked message
// is delivered, and that no message is created or lost: the stored count
// always equals what was accepted minus what was settled away.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0, 0, 0, 2, 2, 2, 4, 0, 4, 0, 4, 0, 2, 3, 0, 12, 100})
	f.Add([]byte{1, 30, 1, 200, 12, 50, 2, 7, 0, 9, 5, 13})
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 4096 {
			return
		}
		runProgram(t, program)
	})
}

// TestRandomOperationSequences runs a few fixed pseudo-random programs
// through the same checks as FuzzOperations on every test run.
func TestRandomOperationSequences(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			program := make([]byte, 600)
			x := seed * 0x9e3779b97f4a7c15
			for i := range program {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				program[i] = byte(x)
			}
			runProgram(t, program)
		})
	}
}

type heldLock struct {
	q   *Queue
	rec Record
}

func runProgram(t *testing.T, program []byte) {
	clk := newFakeClock()
	b, err := New(clk, []QueueConfig{
		{Name: "main", LockDuration: 10 * time.Second, MaxDeliveryCount: 3, DefaultMessageTimeToLive: time.Minute,
			DeadLetteringOnExpiration: true, RequiresDuplicateDetection: true, DuplicateDetectionWindow: 30 * time.Second},
		{Name: "front", ForwardTo: "main", ForwardDeadLetteredMessagesTo: "other"},
		{Name: "other", LockDuration: 5 * time.Second, MaxDeliveryCount: 1, DefaultMessageTimeToLive: 20 * time.Second,
			DeadLetteringOnExpiration: true},
	})
	require.NoError(t, err)
	main, front, other := b.Queues()[0], b.Queues()[1], b.Queues()[2]
	queues := []*Queue{main, front, other, main.DeadLetterQueue(), front.DeadLetterQueue(), other.DeadLetterQueue()}
	lastSeq := map[*Queue]int64{}
	var held []heldLock
	stored := 0 // messages that should exist somewhere in the broker

	next := func() byte {
		if len(program) == 0 {
			return 0
		}
		c := program[0]
		program = program[1:]
		return c
	}
	pickQueue := func() *Queue { return queues[int(next())%len(queues)] }
	sendable := []*Queue{main, front, other}

	for len(program) > 0 {
		op := next() % 16
		switch op {
		case 0, 1: // send or schedule
			q := sendable[int(next())%len(sendable)]
			id := fmt.Sprint(next() % 8)
			m := Message{MessageID: id, TimeToLive: time.Duration(next()%4) * 15 * time.Second}
			if op == 1 {
				m.ScheduledEnqueueTime = clk.Now().Add(time.Duration(next()%5) * 10 * time.Second)
			}
			seqs, err := q.Send([]Message{m})
			require.NoError(t, err)
			if seqs[0] != 0 {
				stored++
				dest := q
				if q == front {
					dest = main
				}
				require.Greater(t, seqs[0], lastSeq[dest], "sequence numbers grow in %s", dest.Name())
				lastSeq[dest] = seqs[0]
			}
		case 2, 3: // receive
			q := pickQueue()
			mode := PeekLock
			if op == 3 && next()%4 == 0 {
				mode = ReceiveAndDelete
			}
			rec, ok := q.Receive(mode)
			if !ok {
				continue
			}
			now := clk.Now()
			require.Equal(t, StateActive, rec.State)
			require.True(t, rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt), "delivered an expired message")
			for _, h := range held {
				live := now.Before(h.rec.LockedUntil)
				require.False(t, live && h.q == q && h.rec.SequenceNumber == rec.SequenceNumber,
					"message %d of %s handed out while locked", rec.SequenceNumber, q.Name())
			}
			if mode == ReceiveAndDelete {
				stored--
				continue
			}
			require.Equal(t, now.Add(q.Config().LockDuration), rec.LockedUntil)
			held = append(held, heldLock{q, rec})
		case 4, 5, 6, 7, 8, 9, 10: // settle a held lock (possibly long expired)
			if len(held) == 0 {
				continue
			}
			i := int(next()) % len(held)
			h := held[i]
			held = append(held[:i], held[i+1:]...)
			valid := clk.Now().Before(h.rec.LockedUntil) // the model: only time ends a lock we hold
			var err error
			switch op {
			case 4:
				err = h.q.Complete(h.rec.LockToken)
				if err == nil {
					stored--
				}
			case 5:
				err = h.q.Abandon(h.rec.LockToken, []Property{{Key: "p", Value: int(op)}})
			case 6:
				err = h.q.Release(h.rec.LockToken)
			case 7:
				err = h.q.Defer(h.rec.LockToken, nil)
			case 8:
				err = h.q.DeadLetter(h.rec.LockToken, "r", "d", nil)
			case 9:
				var until time.Time
				until, err = h.q.RenewLock(h.rec.LockToken)
				if err == nil {
					h.rec.LockedUntil = until
					held = append(held, h)
				}
			case 10:
				err = h.q.ExpireLock(h.rec.LockToken)
			}
			if valid {
				require.NoError(t, err, "op %d on a live lock", op)
			} else {
				require.ErrorIs(t, err, ErrLockLost, "op %d on a dead lock", op)
			}
		case 11: // receive deferred
			q := pickQueue()
			seq := int64(next() % 16)
			var want bool
			if p := q.Peek(seq, 1); len(p) == 1 && p[0].SequenceNumber == seq && p[0].State == StateDeferred {
				want = !lockedSeq(b, q, seq)
			}
			recs, err := q.ReceiveDeferred([]int64{seq}, PeekLock)
			if want {
				require.NoError(t, err)
				held = append(held, heldLock{q, recs[0]})
			} else {
				require.ErrorIs(t, err, ErrMessageNotFound)
			}
		case 12: // advance time
			clk.Advance(time.Duration(next()%40) * time.Second)
		case 13: // sweep
			d := b.Sweep()
			require.True(t, d.IsZero() || d.After(clk.Now()), "Sweep left something due")
		case 14: // cancel scheduled
			q := pickQueue()
			seq := int64(next() % 16)
			if p := q.Peek(seq, 1); len(p) == 1 && p[0].SequenceNumber == seq && p[0].State == StateScheduled {
				stored--
			}
			require.NoError(t, q.CancelScheduled([]int64{seq}))
		case 15: // peek
			q := pickQueue()
			recs := q.Peek(int64(next()%8), int(next()%8))
			for i := 1; i < len(recs); i++ {
				require.Less(t, recs[i-1].SequenceNumber, recs[i].SequenceNumber)
			}
		}
		checkInvariants(t, b)
		total := 0
		for _, q := range queues {
			st := q.Stats()
			total += st.Active + st.Locked + st.Deferred + st.Scheduled
		}
		require.Equal(t, stored, total, "messages were created or lost")
	}
}

// lockedSeq reports whether the message seq of q is locked.
func lockedSeq(b *Broker, q *Queue, seq int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := q.entries[seq]
	return ok && e.locked
}
