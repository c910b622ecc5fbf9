package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/licensefix/licensefix/internal/testutil"
)

// echoServer answers every line with the same line until the client goes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 16)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func start(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	got, err := r.ReadString('\n')
	return got, err
}

func TestForwardsBothWays(t *testing.T) {
	t.Parallel()
	p := start(t)
	c, r := dial(t, p)
	got, err := roundTrip(t, c, r, "hello", 5*time.Second)
	if err != nil || got != "hello\n" {
		t.Fatalf("round trip = %q, %v; want hello", got, err)
	}
	if s := p.Stats(); s.Accepted != 1 || s.Open != 1 {
		t.Fatalf("stats = %+v, want 1 accepted and open", s)
	}
}

func TestCutClosesOpenConnections(t *testing.T) {
	t.Parallel()
	p := start(t)
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut closed %d connections, want 1", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after cut = %v, want the connection closed", err)
	}
	// A new connection works.
	c2, r2 := dial(t, p)
	if got, err := roundTrip(t, c2, r2, "b", 5*time.Second); err != nil || got != "b\n" {
		t.Fatalf("after cut: %q, %v", got, err)
	}
	if s := p.Stats(); s.Cut != 1 || s.Accepted != 2 {
		t.Fatalf("stats = %+v, want 1 cut, 2 accepted", s)
	}
}

func TestBlackholeHoldsBytesUntilForward(t *testing.T) {
	t.Parallel()
	p := start(t)
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetMode(Blackhole)
	_, err := roundTrip(t, c, r, "during", 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during blackhole = %v, want a timeout", err)
	}
	// A connection made during the blackhole is accepted and silent too.
	c2, r2 := dial(t, p)
	if _, err := roundTrip(t, c2, r2, "new", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection during blackhole = %v, want a timeout", err)
	}
	p.SetMode(Forward)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "during\n" {
		t.Fatalf("after the blackhole: %q, %v; want the held line", got, err)
	}
}

func TestCutDuringBlackholeReleasesPumps(t *testing.T) {
	t.Parallel()
	p := start(t)
	c, r := dial(t, p)
	p.SetMode(Blackhole)
	if _, err := roundTrip(t, c, r, "x", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut = %d, want 1", n)
	}
	// Close must not hang on a pump stuck in the blackhole; goleak checks
	// the goroutines are gone at the end of the package.
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung after a cut during a blackhole")
	}
}

func TestRejectClosesNewConnections(t *testing.T) {
	t.Parallel()
	p := start(t)
	p.SetMode(Reject)
	c, r := dial(t, p)
	_, err := roundTrip(t, c, r, "x", 5*time.Second)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a rejected connection = %v, want closed", err)
	}
	if s := p.Stats(); s.Rejected != 1 {
		t.Fatalf("stats = %+v, want 1 rejected", s)
	}
	p.SetMode(Forward)
	c2, r2 := dial(t, p)
	if got, err := roundTrip(t, c2, r2, "y", 5*time.Second); err != nil || got != "y\n" {
		t.Fatalf("after reject: %q, %v", got, err)
	}
}

func TestDialFailureIsRecorded(t *testing.T) {
	t.Parallel()
	dead := testutil.FreeAddr(t) // outside the ephemeral range: the dial cannot meet itself
	p, err := New(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "x", 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want the client connection closed, got %v", err)
	}
	if p.LastDialError() == nil {
		t.Fatal("LastDialError is nil after a refused dial")
	}
}

func TestModeString(t *testing.T) {
	t.Parallel()
	for m, want := range map[Mode]string{Forward: "forward", Blackhole: "blackhole", Reject: "reject", Mode(7): "Mode(7)"} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(m), got, want)
		}
	}
}
