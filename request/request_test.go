package request_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/wmbridge"
)

// registerWM registers the bridged test backend once (-count=N).
var registerWM sync.Once

// TestRefusedWhereNoRequestReply: a backend declaring no request/reply
// (a bridged Watermill backend) is refused at Open, naming it.
func TestRefusedWhereNoRequestReply(t *testing.T) {
	registerWM.Do(func() { wmbridge.Register("wmreqtest", wmbridge.Backend{Name: "wmreqtest"}) })
	_, err := request.Open(context.Background(), "wmreqtest://x")
	var he *herald.Error
	if !errors.As(err, &he) || he.Backend != "wmreqtest" || !errors.Is(err, herald.ErrInvalid) {
		t.Fatalf("request.Open on a bridged backend: %v; want a *herald.Error of KindInvalid naming wmreqtest", err)
	}
}

// TestRequestAfterClose: a request on a closed client fails with
// herald.ErrClosed, and Close is idempotent.
func TestRequestAfterClose(t *testing.T) {
	c, err := request.Open(context.Background(), "mem://request-closed")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = request.Request[int, int](context.Background(), c, "t", 1)
	if !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Request after Close: %v; want herald.ErrClosed", err)
	}
}

// TestCloseFailsWaitingRequests: Close ends a request waiting for its
// reply with herald.ErrClosed, not at its deadline.
func TestCloseFailsWaitingRequests(t *testing.T) {
	const url = "mem://request-close-waiting"
	c, err := request.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	// A group with no member: the request is stored and nobody answers.
	sub, err := request.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	prepareGroup(t, url, "nobody-home")
	errc := make(chan error, 1)
	go func() {
		_, err := request.Request[int, int](context.Background(), c, "nobody-home", 1, request.Timeout(time.Minute))
		errc <- err
	}()
	// Most runs close while the request waits; either way the answer is
	// ErrClosed, and promptly (the request's own timeout is a minute).
	time.Sleep(50 * time.Millisecond)
	begin := time.Now()
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, herald.ErrClosed) {
			t.Fatalf("waiting request after Close: %v; want herald.ErrClosed", err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Fatalf("the waiting request ended %v after Close", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request did not end within 10s of Close")
	}
}

// TestTimeoutOption: request.Timeout bounds a request whose context has
// no deadline; the error matches ErrTimeout and context.DeadlineExceeded.
func TestTimeoutOption(t *testing.T) {
	const url = "mem://request-timeout-option"
	c, err := request.Open(context.Background(), url, request.WithTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prepareGroup(t, url, "slow")
	begin := time.Now()
	_, err = request.Request[int, int](context.Background(), c, "slow", 1, request.Timeout(200*time.Millisecond))
	if !errors.Is(err, request.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request: %v; want ErrTimeout", err)
	}
	if d := time.Since(begin); d < 190*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed out after %v; want about 200ms", d)
	}
	if _, err := request.Open(context.Background(), url, request.WithTimeout(0)); err == nil {
		t.Fatal("WithTimeout(0) accepted; want an error")
	}
}
