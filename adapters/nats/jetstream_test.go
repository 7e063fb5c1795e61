package nats_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSubscribeCallsCompete: several Subscribe calls on one Watermill
// subscriber share the messages, with and without a group.
func TestSubscribeCallsCompete(t *testing.T) {
	for _, q := range []string{"", "group=compete", "mode=core", "mode=core&group=compete"} {
		t.Run(q, func(t *testing.T) {
			u := withQuery(brokerURL(t), q)
			tp := topic(t)
			sub := openSub(t, u)
			var chans []<-chan *message.Message
			for range 3 {
				chans = append(chans, subscribe(t, sub, tp))
			}
			const n = 60
			if err := openPub(t, u).Publish(tp, newMsgs(n, "c")...); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := map[string]int{}
			per := make([]int, len(chans))
			var wg sync.WaitGroup
			for i, ch := range chans {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case m := <-ch:
							time.Sleep(time.Millisecond)
							m.Ack()
							mu.Lock()
							seen[m.UUID]++
							per[i]++
							mu.Unlock()
						case <-time.After(time.Second):
							return
						}
					}
				}()
			}
			wg.Wait()
			if len(seen) != n {
				t.Fatalf("%d distinct messages, want %d", len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Errorf("message %s delivered %d times", id, c)
				}
			}
			busy := 0
			for _, c := range per {
				if c > 0 {
					busy++
				}
			}
			if busy < 2 {
				t.Errorf("deliveries per Subscribe call %v: they do not compete", per)
			}
		})
	}
}

// TestProvisionOnce: publishing does not look the stream up each time.
func TestProvisionOnce(t *testing.T) {
	_, js := rawConn(t)
	pub := openPub(t, brokerURL(t))
	tp := topic(t)
	if err := pub.Publish(tp, newMsgs(1, "warm")...); err != nil {
		t.Fatal(err)
	}
	before, err := js.AccountInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if err := pub.Publish(tp, newMsgs(2, "p")...); err != nil {
			t.Fatal(err)
		}
	}
	after, err := js.AccountInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Other tests may run concurrently; 100 publishes must not cost ~100 API calls.
	if d := after.API.Total - before.API.Total; d > 20 {
		t.Errorf("%d JetStream API calls for 50 publishes", d-1)
	}
}

// TestSharedStream: with stream=NAME, topics are added to one stream and
// each group has a consumer per topic.
func TestSharedStream(t *testing.T) {
	_, js := rawConn(t)
	name := "HERALD_TEST_SHARED_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	u := withQuery(brokerURL(t), "stream="+name)
	a, b := topic(t), topic(t)
	sub := openSub(t, withQuery(u, "group=shared"))
	cha, chb := subscribe(t, sub, a), subscribe(t, sub, b)
	pub := openPub(t, u)
	if err := pub.Publish(a, newMsgs(3, "a")...); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(b, newMsgs(2, "b")...); err != nil {
		t.Fatal(err)
	}
	receive(t, cha, 3, 10*time.Second)
	receive(t, chb, 2, 10*time.Second)
	none(t, cha, 200*time.Millisecond)
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 2 {
		t.Errorf("stream subjects %v, want the two topics", subj)
	}
	names := st.ConsumerNames(context.Background())
	n := 0
	for range names.Name() {
		n++
	}
	if n != 2 {
		t.Errorf("%d consumers, want one per topic for the group", n)
	}
}

// TestProvisionFalse: without provisioning, a missing stream is a clear
// error.
func TestProvisionFalse(t *testing.T) {
	pub := openPub(t, withQuery(brokerURL(t), "provision=false"))
	err := pub.Publish(topic(t), newMsgs(1, "x")...)
	if err == nil || !strings.Contains(err.Error(), "provision=false") {
		t.Fatalf("err = %v, want one naming provision=false", err)
	}
}

// TestAs: the escape hatch reaches the connection, JetStream and the
// Watermill objects.
func TestAs(t *testing.T) {
	type aser interface{ As(any) bool }
	for _, q := range []string{"", "mode=core"} {
		u := withQuery(brokerURL(t), q)
		for _, v := range []any{openPub(t, u), openSub(t, u)} {
			a, ok := v.(aser)
			if !ok {
				t.Fatalf("%T has no As", v)
			}
			var nc *nats.Conn
			if !a.As(&nc) || nc == nil || !nc.IsConnected() {
				t.Errorf("%T As(*nats.Conn) failed", v)
			}
			var js jetstream.JetStream
			if got := a.As(&js); got != (q == "") {
				t.Errorf("%T As(jetstream.JetStream) = %v in mode %q", v, got, q)
			}
			var wp message.Publisher
			var ws message.Subscriber
			if !a.As(&wp) && !a.As(&ws) {
				t.Errorf("%T gives no Watermill object", v)
			}
			var nope *int
			if a.As(&nope) {
				t.Errorf("%T As(**int) = true", v)
			}
		}
	}
}
