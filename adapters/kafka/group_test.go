package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// produceTo writes n records to each of partitions 0..parts-1 of topic
// with a plain franz-go client.
func produceTo(t *testing.T, target, topic string, parts int32, n int) {
	t.Helper()
	cl := rawClient(t, target, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for p := range parts {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestRevokeInvalidates (issue 14, item 9): when a rebalance moves a
// partition to another member, the records of it that the first member
// still holds are no longer Valid (the facade skips them), those queued
// in the driver are never handed out, and settling them commits nothing:
// only the new owner handles them. The partition kept is not affected.
func TestRevokeInvalidates(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("revoke"), uniqueName("g")
	const n = 10
	createTopic(t, target, topic, 2)
	produceTo(t, target, topic, 2, n)
	short := func(s *settings) { s.revokeWait = 300 * time.Millisecond }
	a := openStream(t, openSubscription(t, withQuery(target, "group="+group), short), topic, 64, nil)

	// A holds 3 records of each partition unsettled; the rest stay queued
	// in the driver.
	held := map[int32][]adapters.Received{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	buf := make([]adapters.Received, 1)
	for len(held[0]) < 3 || len(held[1]) < 3 {
		if _, err := a.Receive(ctx, buf); err != nil {
			t.Fatalf("A received %d+%d: %v", len(held[0]), len(held[1]), err)
		}
		held[buf[0].Token.Part] = append(held[buf[0].Token.Part], buf[0])
	}

	b := openStream(t, openSubscription(t, withQuery(target, "group="+group), short), topic, 64, nil)
	first := receiveN(t, b, 1, 60*time.Second)[0]
	moved := first.Token.Part
	kept := 1 - moved
	if first.Token.Seq != 0 {
		t.Errorf("B's first record of partition %d is at offset %d; want 0 (A settled nothing)", moved, first.Token.Seq)
	}
	for _, r := range held[moved] {
		if a.Valid(r.Token) {
			t.Errorf("A's record %q of the moved partition %d is still Valid while B has the partition", r.Msg.Payload, moved)
		}
	}
	for _, r := range held[kept] {
		if !a.Valid(r.Token) {
			t.Errorf("A's record %q of the kept partition %d is not Valid", r.Msg.Payload, kept)
		}
	}
	// A hands out nothing more of the moved partition, everything of the
	// one it kept.
	for _, r := range held[moved] {
		a.Ack(r.Token) // does nothing: no commit for a partition A lost
	}
	for _, r := range held[kept] {
		a.Ack(r.Token)
	}
	for range n - len(held[kept]) {
		r := receiveN(t, a, 1, 30*time.Second)[0]
		if r.Token.Part != kept {
			t.Fatalf("A handed out %q of partition %d after it moved to B", r.Msg.Payload, r.Token.Part)
		}
		a.Ack(r.Token)
	}
	receiveNone(t, a, 500*time.Millisecond)
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := committed(t, target, group, topic)
	if c[kept].At != n {
		t.Errorf("partition %d (kept by A, all acked) committed at %d; want %d", kept, c[kept].At, n)
	}
	if o, ok := c[moved]; ok && o.At >= 0 {
		t.Errorf("partition %d (moved to B, which acked nothing) committed at %d by A's late acks", moved, o.At)
	}
	// B gets every record of the moved partition (and, once A left, none
	// of the other: A committed it).
	got := map[string]bool{string(first.Msg.Payload): true}
	b.Ack(first.Token)
	for len(got) < n {
		r := receiveN(t, b, 1, 60*time.Second)[0]
		if r.Token.Part != moved {
			t.Fatalf("B got %q of partition %d, which A committed", r.Msg.Payload, r.Token.Part)
		}
		got[string(r.Msg.Payload)] = true
		b.Ack(r.Token)
	}
}

// TestSessionExpiryInvalidates (issue 14, item 9): a member cut off from
// the brokers cannot learn that its session expired, while the group
// hands its partitions to another member: by the time the other member
// gets a record, the first member's deliveries are no longer Valid and
// its stream is broken (the facade opens a new member).
func TestSessionExpiryInvalidates(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("expiry"), uniqueName("g")
	const n = 5
	createTopic(t, target, topic, 1)
	produceTo(t, target, topic, 1, n)
	p, dial := proxied(t, target)
	q := withQuery(target, "group="+group+"&session_timeout=6s")
	a := openStream(t, openSubscription(t, q, dial), topic, 64, nil)
	held := receiveN(t, a, n, 30*time.Second)

	p.Blackhole()
	cut := time.Now()
	bsub := openSubscription(t, q)
	opened := make(chan *stream, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		st, err := bsub.Open(ctx, topic, adapters.StreamOptions{Window: 64, Status: func(error) {}})
		if err != nil {
			t.Error(err)
			opened <- nil
			return
		}
		opened <- st.(*stream)
	}()
	b := <-opened
	if b == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	first := receiveN(t, b, 1, 60*time.Second)[0]
	t.Logf("B got the partition %v after A was cut off", time.Since(cut).Round(time.Millisecond))
	for _, r := range held {
		if a.Valid(r.Token) {
			t.Fatalf("A's record %q is still Valid while B handles %q", r.Msg.Payload, first.Msg.Payload)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.Receive(ctx, make([]adapters.Received, 1))
	var he *herald.Error
	if !errors.As(err, &he) || he.Kind != herald.KindUnreachable || he.Topic != topic {
		t.Errorf("A's Receive after its session expired: %v; want a *herald.Error of KindUnreachable (the stream broke)", err)
	}
	for _, r := range held {
		a.Ack(r.Token) // does nothing
	}
	got := map[string]bool{string(first.Msg.Payload): true}
	b.Ack(first.Token)
	for len(got) < n {
		r := receiveN(t, b, 1, 30*time.Second)[0]
		got[string(r.Msg.Payload)] = true
		b.Ack(r.Token)
	}
}
