package sbemu

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// writeTimeout bounds one socket write: a peer that stops reading is cut off.
const writeTimeout = 30 * time.Second

// maxQueuedBytes is how much encoded output may wait for the socket before
// producers block (back-pressure from a slow peer).
const maxQueuedBytes = 4 << 20

var errWriterStopped = errors.New("sbemu: connection writer stopped")

// frameWriter queues encoded frames and writes them from one goroutine, so
// that frames produced in quick succession go out in one system call.
type frameWriter struct {
	nc net.Conn

	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte
	err      error // first write error; later sends fail with it
	stopping bool

	lastWrite atomic.Int64 // unix nanoseconds of the last queued frame
}

func newFrameWriter(nc net.Conn) *frameWriter {
	w := &frameWriter{nc: nc}
	w.cond.L = &w.mu
	w.lastWrite.Store(time.Now().UnixNano())
	return w
}

// send encodes f onto the queue.
func (w *frameWriter) send(f amqp.Frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.waitRoom(); err != nil {
		return err
	}
	start := len(w.buf)
	b, err := amqp.AppendFrame(w.buf, f)
	if err != nil {
		w.buf = w.buf[:start]
		return err
	}
	w.buf = b
	w.lastWrite.Store(time.Now().UnixNano())
	w.cond.Broadcast()
	return nil
}

// sendRaw queues bytes as they are (protocol headers).
func (w *frameWriter) sendRaw(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.waitRoom(); err != nil {
		return err
	}
	w.buf = append(w.buf, p...)
	w.cond.Broadcast()
	return nil
}

func (w *frameWriter) waitRoom() error {
	for w.err == nil && !w.stopping && len(w.buf) > maxQueuedBytes {
		w.cond.Wait()
	}
	switch {
	case w.err != nil:
		return w.err
	case w.stopping:
		return errWriterStopped
	}
	return nil
}

// run writes queued bytes until stop has been called and the queue is
// empty (nil), or a write fails (that error).
func (w *frameWriter) run() error {
	var spare []byte
	for {
		w.mu.Lock()
		for len(w.buf) == 0 && !w.stopping && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.buf) == 0 {
			err := w.err
			w.mu.Unlock()
			return err
		}
		out := w.buf
		w.buf = spare[:0]
		w.cond.Broadcast()
		w.mu.Unlock()

		_ = w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := w.nc.Write(out)
		spare = out
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.cond.Broadcast()
			w.mu.Unlock()
			return err
		}
	}
}

// stop makes run return once everything queued so far is written; later
// sends fail.
func (w *frameWriter) stop() {
	w.mu.Lock()
	w.stopping = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

// idleFor reports how long ago the last frame was queued.
func (w *frameWriter) idleFor() time.Duration {
	return time.Since(time.Unix(0, w.lastWrite.Load()))
}
