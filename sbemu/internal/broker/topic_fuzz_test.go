package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzTopicOperations reads the input as a program of operations on a topic
// with duplicate detection and a TTL, whose subscriptions take everything,
// filter, fail to evaluate, forward to a queue and dead-letter on expiry,
// and checks after every step that the bookkeeping of every entity holds,
// that the topic's sequence numbers only grow, that the topic holds nothing
// but scheduled messages, that no expired or locked message is delivered
// and that nothing is left due after a sweep.
func FuzzTopicOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{1, 3, 1, 9, 12, 40, 2, 0, 2, 1, 4, 0, 13, 9, 0, 7})
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 4096 {
			return
		}
		runTopicProgram(t, program)
	})
}

// TestRandomTopicSequences runs fixed pseudo-random programs through the
// checks of FuzzTopicOperations on every test run.
func TestRandomTopicSequences(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 10; seed++ {
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
			runTopicProgram(t, program)
		})
	}
}

func runTopicProgram(t *testing.T, program []byte) {
	clk := newFakeClock()
	b, err := NewWithTopics(clk, []QueueConfig{{Name: "q", MaxDeliveryCount: 2}}, []TopicConfig{{
		Name: "t", DefaultMessageTimeToLive: time.Minute, RequiresDuplicateDetection: true, DuplicateDetectionWindow: 30 * time.Second,
		Subscriptions: []SubscriptionConfig{
			{QueueConfig: QueueConfig{Name: "all", LockDuration: 10 * time.Second, MaxDeliveryCount: 2,
				DefaultMessageTimeToLive: 30 * time.Second, DeadLetteringOnExpiration: true}},
			{QueueConfig: QueueConfig{Name: "odd", LockDuration: 5 * time.Second}, Router: routeFunc(func(m Message) ([]Message, error) {
				switch {
				case strings.HasSuffix(m.MessageID, "3"):
					return nil, errors.New("cannot evaluate")
				case strings.ContainsAny(m.MessageID[len(m.MessageID)-1:], "13579"):
					return []Message{m, m}, nil
				}
				return nil, nil
			})},
			{QueueConfig: QueueConfig{Name: "fwd", ForwardTo: "q"}},
		},
	}})
	require.NoError(t, err)
	topic := entity(t, b, "t")
	var queues []*Queue
	for _, p := range []string{"t/Subscriptions/all", "t/Subscriptions/odd", "t/Subscriptions/fwd", "q"} {
		q := entity(t, b, p)
		queues = append(queues, q, q.DeadLetterQueue())
	}
	var lastSeq int64
	var held []heldLock
	var topicSeqs []int64
	next := func() byte {
		if len(program) == 0 {
			return 0
		}
		c := program[0]
		program = program[1:]
		return c
	}
	pick := func() *Queue { return queues[int(next())%len(queues)] }

	for len(program) > 0 {
		switch op := next() % 10; op {
		case 0, 1: // send or schedule to the topic
			m := Message{MessageID: fmt.Sprint(next() % 10), TimeToLive: time.Duration(next()%4) * 20 * time.Second}
			if op == 1 {
				m.ScheduledEnqueueTime = clk.Now().Add(time.Duration(next()%5) * 10 * time.Second)
			}
			seqs, err := topic.Send([]Message{m})
			require.NoError(t, err)
			if seqs[0] != 0 {
				require.Greater(t, seqs[0], lastSeq, "topic sequence numbers grow")
				lastSeq = seqs[0]
				topicSeqs = append(topicSeqs, seqs[0])
			}
		case 2: // cancel one of the topic's scheduled messages, or nothing
			if len(topicSeqs) > 0 {
				require.NoError(t, topic.CancelScheduled([]int64{topicSeqs[int(next())%len(topicSeqs)]}))
			}
		case 3, 4: // receive
			q := pick()
			rec, ok := q.Receive(PeekLock)
			if !ok {
				continue
			}
			now := clk.Now()
			require.True(t, rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt), "delivered an expired message")
			for _, h := range held {
				require.False(t, now.Before(h.rec.LockedUntil) && h.q == q && h.rec.SequenceNumber == rec.SequenceNumber,
					"message %d of %s handed out while locked", rec.SequenceNumber, q.Name())
			}
			held = append(held, heldLock{q, rec})
		case 5, 6, 7: // settle a held lock (possibly long expired)
			if len(held) == 0 {
				continue
			}
			i := int(next()) % len(held)
			h := held[i]
			held = append(held[:i], held[i+1:]...)
			valid := clk.Now().Before(h.rec.LockedUntil)
			var err error
			switch op {
			case 5:
				err = h.q.Complete(h.rec.LockToken)
			case 6:
				err = h.q.Abandon(h.rec.LockToken, nil)
			case 7:
				err = h.q.DeadLetter(h.rec.LockToken, "r", "d", nil)
			}
			if valid {
				require.NoError(t, err, "op %d on a live lock", op)
			} else {
				require.ErrorIs(t, err, ErrLockLost, "op %d on a dead lock", op)
			}
		case 8: // advance time
			clk.Advance(time.Duration(next()%40) * time.Second)
		case 9: // sweep
			d := b.Sweep()
			require.True(t, d.IsZero() || d.After(clk.Now()), "Sweep left something due")
		}
		checkInvariants(t, b)
		require.Zero(t, topic.Stats().Active+topic.Stats().Locked, "a topic holds only scheduled messages")
	}
}
