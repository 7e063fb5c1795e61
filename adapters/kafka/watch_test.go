package kafka

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// TestWatchSharedContext: sends under one context share one watch; when
// it ends, those not answered (and one that joined after it ended) get
// KindOutcomeUnknown after answerGrace, once each; those answered keep
// their answer.
func TestWatchSharedContext(t *testing.T) {
	t.Parallel()
	tp := &topic{}
	ctx, cancel := context.WithCancel(context.Background())
	const n = 100
	var (
		wg      sync.WaitGroup
		answers [n + 1]atomic.Int32
		errs    [n + 1]error
	)
	sends := make([]*send, n+1)
	mk := func(i int) *send {
		wg.Add(1)
		tp.open.Add(1) // as Send counts it
		return &send{Context: ctx, t: tp, topic: "t", done: func(err error) {
			answers[i].Add(1)
			errs[i] = err
			wg.Done()
		}}
	}
	for i := range n {
		sends[i] = mk(i)
		tp.watchFor(ctx).add(sends[i])
	}
	if a, b := sends[0].w, sends[n-1].w; a != b {
		t.Fatal("sends under one context got different watches")
	}
	for i := 0; i < n; i += 2 {
		sends[i].finish(nil) // answered before the end
	}
	start := time.Now()
	cancel()
	sends[n] = mk(n) // joins after the end
	tp.watchFor(ctx).add(sends[n])
	wg.Wait()
	if d := time.Since(start); d < answerGrace {
		t.Errorf("unanswered sends failed %v after the end, want at least answerGrace (%v)", d, answerGrace)
	}
	for i := range n + 1 {
		if got := answers[i].Load(); got != 1 {
			t.Fatalf("send %d answered %d times", i, got)
		}
		answered := i%2 == 0 && i < n
		switch {
		case answered && errs[i] != nil:
			t.Errorf("send %d answered nil got %v", i, errs[i])
		case !answered && !errors.Is(errs[i], herald.ErrOutcomeUnknown):
			t.Errorf("send %d not answered got %v, want outcome unknown", i, errs[i])
		}
	}
	if sends[0].w.head != nil {
		t.Error("the watch still lists sends after every one was answered")
	}
	returned := make(chan struct{})
	go func() { tp.open.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Error("the topic still counts dones not returned after every send was answered (Close would wait for them)")
	}
}

// uncomparableCtx is a context type that == panics on.
type uncomparableCtx struct {
	context.Context
	_ []int
}

// TestWatchUncomparableContext: a context type that cannot be compared
// gets a watch of its own, no panic.
func TestWatchUncomparableContext(t *testing.T) {
	t.Parallel()
	tp := &topic{}
	a := uncomparableCtx{Context: context.Background()}
	b := uncomparableCtx{Context: context.Background()}
	if tp.watchFor(a) == tp.watchFor(b) {
		t.Fatal("two contexts shared a watch")
	}
}
