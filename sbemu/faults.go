package sbemu

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// faults holds the management faults queued by tests.
type faults struct {
	mu       sync.Mutex
	delays   []time.Duration
	failures []mgmtFailure
}

type mgmtFailure struct {
	status    int
	condition string
}

func (f *faults) takeDelay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.delays) == 0 {
		return 0
	}
	d := f.delays[0]
	f.delays = f.delays[1:]
	return d
}

func (f *faults) takeFailure() (mgmtFailure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failures) == 0 {
		return mgmtFailure{}, false
	}
	x := f.failures[0]
	f.failures = f.failures[1:]
	return x, true
}

// DelayManagement makes the next n $management requests (on any entity
// and connection) wait d before they are handled and answered; the
// requests themselves are settled at once.
func (s *Server) DelayManagement(n int, d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for range n {
		s.faults.delays = append(s.faults.delays, d)
	}
}

// FailManagement makes the next n $management requests fail with the
// given status code (e.g. 503) and error condition (e.g.
// "com.microsoft:server-busy") instead of being carried out.
func (s *Server) FailManagement(n int, status int, condition string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for range n {
		s.faults.failures = append(s.faults.failures, mgmtFailure{status: status, condition: condition})
	}
}

// DropConnections closes every client connection abruptly (TCP reset),
// as a network fault would. The server keeps accepting new connections.
// Messages locked through the dropped connections stay locked until their
// locks expire, as in Service Bus (LINKLOSS.md).
func (s *Server) DropConnections() {
	for _, c := range s.snapshotConns() {
		c.abort()
	}
}

// DetachLinks detaches every attached link whose address names entity
// (compared case-insensitively and in any address form: "q1",
// "q1/$DeadLetterQueue", "q1/$management", "amqps://host/q1") with the given error condition and description, e.g.
// "amqp:link:detach-forced" or "com.microsoft:server-busy". It returns how
// many links were detached. Messages locked through a detached receive link
// stay locked until their locks expire (LINKLOSS.md).
func (s *Server) DetachLinks(entity, condition, description string) int {
	e := amqpErr(amqp.Symbol(condition), description)
	entity = nodePath(entity)
	n := 0
	for _, c := range s.snapshotConns() {
		c.mu.Lock()
		for _, sess := range c.sessions {
			for _, l := range sess.links {
				if l.detaching || !strings.EqualFold(l.path, entity) {
					continue
				}
				if err := l.detachWith(e); err == nil {
					n++
				}
			}
		}
		c.mu.Unlock()
	}
	return n
}

// ExpireLock ends the lock with that token (RFC 4122 byte order, as the SDK
// prints it) on entity now, as if it had timed out: the message is
// redelivered with its delivery count raised, or dead-lettered.
func (s *Server) ExpireLock(entity string, lockToken [16]byte) error {
	q, err := s.broker.Entity(entity)
	if err != nil {
		return fmt.Errorf("sbemu: %q: %w", entity, err)
	}
	s.locks.remove(q, broker.LockToken(lockToken))
	if err := q.ExpireLock(broker.LockToken(lockToken)); err != nil {
		return fmt.Errorf("sbemu: expire lock: %w", err)
	}
	s.poke()
	return nil
}

// ExpireAllLocks ends every lock currently held on entity and returns how
// many there were.
func (s *Server) ExpireAllLocks(entity string) (int, error) {
	q, err := s.broker.Entity(entity)
	if err != nil {
		return 0, fmt.Errorf("sbemu: %q: %w", entity, err)
	}
	n := 0
	for _, tok := range s.locks.take(q) {
		if q.ExpireLock(tok) == nil {
			n++
		}
	}
	s.poke()
	return n, nil
}
