package adaptertest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// denv is one driver-level test's view of the backend: the driver, its
// configuration and capabilities, and helpers that open what they return
// and close it when the test ends.
type denv struct {
	t     *testing.T
	suite Suite
	names *made // the topics and groups the test named, for Suite.Cleanup
	backend
}

func newDriverEnv(t *testing.T, s Suite) *denv {
	t.Helper()
	names := track(t, s)
	return &denv{t: t, suite: s, names: names, backend: resolve(t, s.Target)}
}

// in returns e for the subtest t (helpers fail and clean up on t).
func (e *denv) in(t *testing.T) *denv {
	c := *e
	c.t = t
	return &c
}

func (e *denv) wait() time.Duration { return e.suite.wait() }

// env is what the driver is given at open: a logger writing to the test.
func (e *denv) env() adapters.Env { return adapters.Env{Logger: Logger(e.t)} }

// ctx returns a context bounded by the suite's wait, cancelled when the
// test ends.
func (e *denv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.wait())
	e.t.Cleanup(cancel)
	return ctx
}

// group returns a fresh group name, or "" (a private subscription) when
// the driver does not declare Groups.
func (e *denv) group(name string) string {
	if !e.caps.Groups {
		return ""
	}
	return e.names.group(name)
}

// topic returns a fresh topic name.
func (e *denv) topic(name string) string { return e.names.topic(name) }

// openTopic opens the publish side; it is closed when the test ends.
func (e *denv) openTopic() adapters.Topic {
	e.t.Helper()
	tp, err := e.driver.OpenTopic(e.ctx(), e.cfg, e.env())
	if err != nil {
		e.t.Fatalf("OpenTopic(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() { closeWithin(e.t, "Topic", e.wait(), tp.Close) })
	return tp
}

// openSub opens the consume side for group ("" for a private
// subscription); it is closed when the test ends.
func (e *denv) openSub(group string) adapters.Subscription {
	e.t.Helper()
	cfg := e.cfg.Clone()
	cfg.Group = group
	sub, err := e.driver.OpenSubscription(e.ctx(), cfg, e.env())
	if err != nil {
		e.t.Fatalf("OpenSubscription(%s, group %q): %v", cfg, group, err)
	}
	e.t.Cleanup(func() { closeWithin(e.t, "Subscription", e.wait(), sub.Close) })
	subCapsMu.Lock()
	subCaps[sub] = e.driver.Capabilities(cfg)
	subCapsMu.Unlock()
	return sub
}

// subCaps are the capabilities of each subscription opened by openSub.
var (
	subCapsMu sync.Mutex
	subCaps   = map[adapters.Subscription]adapters.Capabilities{}
)

// openStream opens a stream of topic on sub with window; it is closed when
// the test ends (before sub).
func (e *denv) openStream(sub adapters.Subscription, topic string, window int) *dstream {
	e.t.Helper()
	subCapsMu.Lock()
	caps, ok := subCaps[sub]
	subCapsMu.Unlock()
	if !ok {
		caps = e.caps
	}
	s := &dstream{status: NewStatusLog(), e: e, topic: topic, caps: caps}
	report := func(err error) {
		if s.closed.Load() {
			s.late.Add(1)
		}
		s.status.Report(err)
	}
	st, err := sub.Open(e.ctx(), topic, adapters.StreamOptions{Window: window, Status: report})
	if err != nil {
		e.t.Fatalf("Open(%q, window %d): %v", topic, window, err)
	}
	s.Stream = st
	t := e.t
	t.Cleanup(func() { // after the close below and what the test closed later
		if n := s.late.Load(); n > 0 {
			t.Errorf("Status of the stream of %q called %d times after Stream.Close returned", topic, n)
		}
	})
	t.Cleanup(s.close)
	return s
}

// closeWithin calls closeFn with a ctx of d and fails t when it errs.
func closeWithin(t *testing.T, what string, d time.Duration, closeFn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := closeFn(ctx); err != nil {
		t.Errorf("%s.Close: %v", what, err)
	}
}

// dstream is an open Stream with what it has received and not yet handed
// to the test.
type dstream struct {
	adapters.Stream
	status *StatusLog
	e      *denv
	topic  string
	// caps are what the driver declares for the subscription's cfg (its
	// group included: on RabbitMQ a group's quorum queue counts attempts,
	// a private classic queue does not).
	caps adapters.Capabilities

	closeOnce sync.Once
	closed    atomic.Bool  // Close returned
	late      atomic.Int32 // Status calls after that
	queue     []adapters.Received
	buf       [16]adapters.Received
}

// close closes the stream once, within the suite's wait.
func (s *dstream) close() {
	s.closeOnce.Do(func() {
		closeWithin(s.e.t, "Stream", s.e.wait(), s.Stream.Close)
		s.closed.Store(true)
	})
}

// next returns the next delivery, failing t when none comes within d.
func (s *dstream) next(t *testing.T, d time.Duration) adapters.Received {
	t.Helper()
	r, err := s.tryNext(d)
	if err != nil {
		t.Fatalf("Receive on %q: no delivery within %v: %v", s.topic, d, err)
	}
	return r
}

// tryNext returns the next delivery, or Receive's error (ctx's after d).
func (s *dstream) tryNext(d time.Duration) (adapters.Received, error) {
	if len(s.queue) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		n, err := s.Receive(ctx, s.buf[:])
		if err != nil {
			return adapters.Received{}, err
		}
		s.queue = append(s.queue, s.buf[:n]...)
		clear(s.buf[:n])
		if n == 0 {
			return adapters.Received{}, errors.New("stream: Receive returned 0 deliveries and no error")
		}
	}
	r := s.queue[0]
	s.queue = s.queue[1:]
	return r, nil
}

// until receives and acks deliveries until every message of want (by
// ID) was received at least once; it returns every delivery in order,
// redeliveries included.
func (s *dstream) until(t *testing.T, want []*herald.Message) []adapters.Received {
	t.Helper()
	return s.untilEach(t, want, func(r adapters.Received) { s.Ack(r.Token) })
}

// untilEach is until with fn called on each delivery as it is received
// (fn settles it, or not).
func (s *dstream) untilEach(t *testing.T, want []*herald.Message, fn func(adapters.Received)) []adapters.Received {
	t.Helper()
	missing := map[string]bool{}
	for _, m := range want {
		missing[m.UUID] = true
	}
	var got []adapters.Received
	deadline := time.Now().Add(s.e.wait())
	for len(missing) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("Receive on %q: %d of %d messages missing after %v", s.topic, len(missing), len(want), s.e.wait())
		}
		r, err := s.tryNext(left)
		if err != nil {
			t.Fatalf("Receive on %q: %d of %d messages missing: %v", s.topic, len(missing), len(want), err)
		}
		got = append(got, r)
		delete(missing, r.Msg.UUID)
		fn(r)
	}
	return got
}

// take receives up to max deliveries without settling them: the first
// within the suite's wait, each further one within quiet (a driver may
// hand out fewer than its window). It fails t when none comes.
func (s *dstream) take(t *testing.T, max int) []adapters.Received {
	t.Helper()
	got := []adapters.Received{s.next(t, s.e.wait())}
	for len(got) < max {
		r, err := s.tryNext(quiet)
		if err != nil {
			break
		}
		got = append(got, r)
	}
	return got
}

// drain runs a goroutine that receives and acks every delivery into c
// until the test ends.
func (s *dstream) drain(c *collector) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	s.e.t.Cleanup(func() { cancel(); <-stopped })
	go func() {
		defer close(stopped)
		buf := make([]adapters.Received, 16)
		for {
			n, err := s.Receive(ctx, buf)
			for _, r := range buf[:n] {
				c.add(r.Msg)
				s.Ack(r.Token)
			}
			if err != nil {
				return
			}
		}
	}()
}

// messages returns n messages with payload "<prefix>-<i>".
func messages(n int, prefix string) []*herald.Message {
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(prefix + "-" + strconv.Itoa(i)))
	}
	return msgs
}

// ids returns the IDs of msgs.
func ids(msgs []*herald.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.UUID
	}
	return out
}

// checkError fails t unless err is a *herald.Error whose Backend is the
// scheme under test, whose Topic is topic (when topic is not empty) and,
// when kinds are given, whose Kind is one of them.
func (e *denv) checkError(t *testing.T, what string, err error, topic string, kinds ...herald.Kind) {
	t.Helper()
	var he *herald.Error
	if !errors.As(err, &he) {
		t.Errorf("%s = %v (%T); want a *herald.Error", what, err, err)
		return
	}
	if he.Backend != e.cfg.Scheme && !(e.cfg.Scheme == "amqps" && he.Backend == "amqp") {
		t.Errorf("%s: Backend = %q; want %q (%v)", what, he.Backend, e.cfg.Scheme, err)
	}
	if topic != "" && he.Topic != topic {
		t.Errorf("%s: Topic = %q; want %q (%v)", what, he.Topic, topic, err)
	}
	if len(kinds) == 0 {
		return
	}
	for _, k := range kinds {
		if he.Kind == k && errors.Is(err, k.Sentinel()) {
			return
		}
	}
	t.Errorf("%s: Kind = %v; want one of %v (%v)", what, he.Kind, kinds, err)
}
