package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

func newMessages(n int, prefix string) []*message.Message {
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return msgs
}

// committed sums the offsets the group committed on topic.
func committed(t *testing.T, target, group, topic string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(saramaClient(t, target))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, b := range resp.Blocks[topic] {
		if b.Offset > 0 {
			sum += b.Offset
		}
	}
	return sum
}

// TestAckedOffsetsCommittedOnClose: what a group member acked is committed
// by Close, and the group's next member starts after it.
func TestAckedOffsetsCommittedOnClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("commit"), uniqueName("g")
	pub := openPub(t, target)
	sub := openSub(t, withQuery(target, "group="+group))
	ch := subscribe(t, sub, topic)
	publish(t, pub, topic, newMessages(20, "a")...)
	receive(t, ch, 20, 30*time.Second)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, target, group, topic); got != 20 {
		t.Fatalf("committed offsets sum to %d after Close; want 20", got)
	}
	next := openSub(t, withQuery(target, "group="+group))
	ch = subscribe(t, next, topic)
	fresh := herald.NewMessage([]byte("fresh"))
	publish(t, pub, topic, fresh)
	if got := receive(t, ch, 1, 30*time.Second); got[0].UUID != fresh.UUID {
		t.Fatalf("next member got %q first; want only the new message", got[0].Payload)
	}
	none(t, ch, time.Second)
}

// TestSubscribeCallsCompete: the Subscribe calls of one subscriber share
// the messages, with and without a group.
func TestSubscribeCallsCompete(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	for _, group := range []string{"", uniqueName("g")} {
		t.Run("group="+group, func(t *testing.T) {
			t.Parallel()
			const n, calls = 60, 3
			topic := uniqueName("compete")
			pub := openPub(t, target)
			q := ""
			if group != "" {
				q = "group=" + group
			}
			sub := openSub(t, withQuery(target, q))
			var total atomic.Int32
			all := make(chan struct{}) // closed when the n-th delivery arrives
			seen := sync.Map{}
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; i < calls; i++ {
				ch, err := sub.Subscribe(ctx, topic)
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for m := range ch {
						if _, dup := seen.LoadOrStore(m.UUID, true); dup {
							t.Errorf("message %q delivered twice", m.Payload)
						}
						if total.Add(1) == n {
							close(all)
						}
						m.Ack()
					}
				}()
			}
			publish(t, pub, topic, newMessages(n, "c")...)
			select {
			case <-all:
			case <-time.After(30 * time.Second):
			}
			time.Sleep(500 * time.Millisecond) // a window for duplicates to show up
			cancel()
			wg.Wait()
			if got := total.Load(); got != n {
				t.Fatalf("%d deliveries for %d messages", got, n)
			}
		})
	}
}

// TestInitialOffset: a new group starts at the oldest record by default,
// and initial_offset=newest starts after the records already there but
// still gets a record published right after Subscribe returned.
func TestInitialOffset(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("initial")
	pub := openPub(t, target)
	before := newMessages(3, "before")
	publish(t, pub, topic, before...)

	oldest := subscribe(t, openSub(t, withQuery(target, "group="+uniqueName("g"))), topic)
	receive(t, oldest, 3, 30*time.Second)

	newest := subscribe(t, openSub(t, withQuery(target, "group="+uniqueName("g")+"&initial_offset=newest")), topic)
	private := subscribe(t, openSub(t, target), topic)
	after := herald.NewMessage([]byte("after"))
	publish(t, pub, topic, after)
	for name, ch := range map[string]<-chan *message.Message{"newest": newest, "private": private} {
		if got := receive(t, ch, 1, 30*time.Second); got[0].UUID != after.UUID {
			t.Errorf("%s: got %q first; want the message published after Subscribe", name, got[0].Payload)
		}
	}
	receive(t, oldest, 1, 30*time.Second)

	replay := subscribe(t, openSub(t, withQuery(target, "initial_offset=oldest")), topic)
	receive(t, replay, 4, 30*time.Second)
}

// TestNackRedeliversInPlace: a nacked message comes back before the next
// one of its partition, after the delay the handler asked for.
func TestNackRedeliversInPlace(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("nack")
	pub := openPub(t, target)
	ch := subscribe(t, openSub(t, withQuery(target, "group="+uniqueName("g")+"&partitions=1")), topic)
	publish(t, pub, topic, newMessages(2, "n")...)
	first := <-ch
	delay := 300 * time.Millisecond
	setNackDelay(first, delay)
	start := time.Now()
	first.Nack()
	again := receive(t, ch, 1, 30*time.Second)[0]
	if again.UUID != first.UUID {
		t.Fatalf("after a nack got %q; want %q again", again.Payload, first.Payload)
	}
	if waited := time.Since(start); waited < delay {
		t.Errorf("redelivered after %v; the handler asked for %v", waited, delay)
	}
	receive(t, ch, 1, 30*time.Second)
}
