package tcpproxy

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echo starts an upstream that echoes every connection.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, msg string, wait time.Duration) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

func TestBlackholeResetUp(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	c := dial()
	if err := roundTrip(c, "hello", 5*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Blackhole()
	var ne net.Error
	if err := roundTrip(c, "lost", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("black-holed: got %v, want a read timeout", err)
	}
	p.Up()
	if err := roundTrip(dial(), "again", 5*time.Second); err != nil {
		t.Fatalf("after Up, a new connection: %v", err)
	}

	c = dial()
	if err := roundTrip(c, "before reset", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Reset: read got %v, want ECONNRESET (an RST, not a FIN)", err)
	}
	if err := roundTrip(dial(), "after reset", 5*time.Second); err != nil {
		t.Fatalf("Reset keeps accepting: %v", err)
	}

	p.Down()
	c = dial() // accepted, then closed at once
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("Down: a new connection stays open")
	}
}
