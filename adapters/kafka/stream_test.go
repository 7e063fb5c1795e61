package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestStreamWindow: a stream hands out a full window with none settled,
// and no more until one is settled; settled out of order, all but the
// first, nothing is committed past the first (Close commits what was
// settled), so the group's next stream gets the first again; once
// everything is settled, the commit reaches the end.
func TestStreamWindow(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("window"), uniqueName("g")
	const window, n = 64, 100
	msgs := newMessages(n, "s")
	sendSync(t, openTopic(t, withQuery(target, "partitions=1")), topic, msgs...)
	sub := openSubscription(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, window, nil)

	got := receiveN(t, st, window, 30*time.Second)
	for i, r := range got {
		if r.Msg.UUID != msgs[i].UUID || r.Attempt != 0 || r.Token.Part != 0 || r.Token.Seq != uint64(i) {
			t.Fatalf("delivery %d: %q attempt %d token %+v; want %q attempt 0 at offset %d of partition 0", i, r.Msg.Payload, r.Attempt, r.Token, msgs[i].Payload, i)
		}
	}
	receiveNone(t, st, 300*time.Millisecond) // the window is full
	for _, r := range got[1:] {
		st.Ack(r.Token)
	}
	more := receiveN(t, st, n-window, 30*time.Second) // the acks freed the window
	if more[0].Msg.UUID != msgs[window].UUID {
		t.Fatalf("after the window: %q; want %q", more[0].Msg.Payload, msgs[window].Payload)
	}
	for _, r := range more {
		st.Ack(r.Token)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c := committed(t, target, group, topic); c[0].At != 0 {
		t.Fatalf("committed offset %d with record 0 unsettled; want 0", c[0].At)
	}
	if st.Valid(got[0].Token) {
		t.Error("a delivery of a closed stream is still Valid")
	}
	st.Ack(got[0].Token) // after Close: does nothing

	again := openStream(t, sub, topic, window, nil)
	first := receiveN(t, again, 1, 30*time.Second)[0]
	if first.Msg.UUID != msgs[0].UUID {
		t.Fatalf("after the restart: %q; want the unsettled %q", first.Msg.Payload, msgs[0].Payload)
	}
	again.Ack(first.Token)
	for range n - 1 { // the others come again too (committed behind record 0)
		again.Ack(receiveN(t, again, 1, 30*time.Second)[0].Token)
	}
	if err := again.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := committed(t, target, group, topic); c[0].At != n {
		t.Errorf("committed offset %d after everything was settled; want %d", c[0].At, n)
	}
}

// TestCommitAfterRealLeaderEpoch (issue 14, item 8): a group whose last
// commit carries a real leader epoch (as the Java client and franz-go's
// own commits do) is committed again by the stream, with the record's
// epoch, and a restart starts after what was settled (a commit with
// epoch -1 is ignored by franz-go: the group never moves and every
// restart replays everything since the foreign commit).
func TestCommitAfterRealLeaderEpoch(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("epoch"), uniqueName("g")
	const n = 10
	tp := openTopic(t, withQuery(target, "partitions=1"))
	sendSync(t, tp, topic, newMessages(n, "e")...)
	adm := kadmClient(t, target)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.LeaderEpoch < 0 {
		t.Fatalf("the broker lists leader epoch %d; want a real one", end.LeaderEpoch)
	}
	var foreign kadm.Offsets
	foreign.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: end.LeaderEpoch})
	if resp, err := adm.CommitOffsets(ctx, group, foreign); err != nil || resp.Error() != nil {
		t.Fatalf("pre-commit: %v %v", err, resp.Error())
	}

	sub := openSubscription(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, 64, nil)
	got := receiveN(t, st, n-3, 30*time.Second)
	if got[0].Token.Seq != 3 {
		t.Fatalf("first delivery at offset %d; want 3 (the pre-committed offset)", got[0].Token.Seq)
	}
	for _, r := range got {
		st.Ack(r.Token)
	}
	// The periodic commit moves the group while the stream runs.
	deadline := time.Now().Add(10 * time.Second)
	for c := committed(t, target, group, topic)[0]; c.At != n; c = committed(t, target, group, topic)[0] {
		if time.Now().After(deadline) {
			t.Fatalf("committed offset %d (epoch %d) 10 s after every record was settled; want %d", c.At, c.LeaderEpoch, n)
		}
		time.Sleep(100 * time.Millisecond) // a condition poll, bounded above
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c := committed(t, target, group, topic)[0]; c.At != n || c.LeaderEpoch != end.LeaderEpoch {
		t.Errorf("committed %d epoch %d; want %d epoch %d (the records')", c.At, c.LeaderEpoch, n, end.LeaderEpoch)
	}

	// A restart gets only what is new.
	later := newMessages(2, "later")
	sendSync(t, tp, topic, later...)
	again := openStream(t, sub, topic, 64, nil)
	for i, r := range receiveN(t, again, 2, 30*time.Second) {
		if r.Msg.UUID != later[i].UUID {
			t.Fatalf("after the restart: %q at offset %d; want only the new records (duplicates of settled ones)", r.Msg.Payload, r.Token.Seq)
		}
	}
	receiveNone(t, again, 500*time.Millisecond)
}

// TestStreamCommitsOnClose: what was acked before Close is committed by
// Close, what was not comes again to the group's next stream.
func TestStreamCommitsOnClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("close"), uniqueName("g")
	msgs := newMessages(6, "c")
	sendSync(t, openTopic(t, withQuery(target, "partitions=1")), topic, msgs...)
	sub := openSubscription(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, 16, nil)
	got := receiveN(t, st, 6, 30*time.Second)
	for _, r := range got[:4] {
		st.Ack(r.Token)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := committed(t, target, group, topic); c[0].At != 4 {
		t.Errorf("committed %d after 4 acks and Close; want 4", c[0].At)
	}
	again := openStream(t, sub, topic, 16, nil)
	for i, r := range receiveN(t, again, 2, 30*time.Second) {
		if r.Msg.UUID != msgs[4+i].UUID {
			t.Errorf("after Close: %q; want %q", r.Msg.Payload, msgs[4+i].Payload)
		}
	}
}

// TestInitialOffset: a new group starts at the oldest record (durable),
// or at the end with start=newest; a private consumer starts at
// the end, or replays with start=oldest; Prepare makes a group
// with start=newest keep what is published after it.
func TestInitialOffset(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("initial")
	tp := openTopic(t, target)
	old := herald.NewMessage([]byte("old"))
	sendSync(t, tp, topic, old)
	prepared := openSubscription(t, withQuery(target, "group="+uniqueName("g")+"&start=newest"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prepared.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	between := herald.NewMessage([]byte("between"))
	sendSync(t, tp, topic, between)
	streams := map[string]*stream{}
	for name, q := range map[string]string{
		"group":          "group=" + uniqueName("g"),
		"group newest":   "group=" + uniqueName("g") + "&start=newest",
		"private":        "",
		"private oldest": "start=oldest",
	} {
		streams[name] = openStream(t, openSubscription(t, withQuery(target, q)), topic, 16, nil)
	}
	streams["prepared"] = openStream(t, prepared, topic, 16, nil)
	fresh := herald.NewMessage([]byte("fresh"))
	sendSync(t, tp, topic, fresh)
	for name, want := range map[string][]*herald.Message{
		"group":          {old, between, fresh},
		"private oldest": {old, between, fresh},
		"prepared":       {between, fresh},
		"group newest":   {fresh},
		"private":        {fresh},
	} {
		got := map[string]bool{}
		for _, r := range receiveN(t, streams[name], len(want), 30*time.Second) {
			got[r.Msg.UUID] = true
		}
		for _, m := range want {
			if !got[m.UUID] {
				t.Errorf("%s: %q not delivered", name, m.Payload)
			}
		}
		receiveNone(t, streams[name], 300*time.Millisecond)
	}
}

// TestStreamNackHoldsTheCommit: Nack (never called by the facade, whose
// redelivery of Kafka records is local) takes the record out of the
// window without settling it: the window moves on, the commit stays
// behind the record, and the group's next stream gets it again.
func TestStreamNackHoldsTheCommit(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("nack"), uniqueName("g")
	msgs := newMessages(3, "n")
	sendSync(t, openTopic(t, withQuery(target, "partitions=1")), topic, msgs...)
	sub := openSubscription(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, 1, nil)
	first := receiveN(t, st, 1, 30*time.Second)[0]
	st.Nack(first.Token, time.Second)
	for range 2 { // the window moved on
		st.Ack(receiveN(t, st, 1, 30*time.Second)[0].Token)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := committed(t, target, group, topic); c[0].At > 0 {
		t.Errorf("committed %d past a nacked record", c[0].At)
	}
	if r := receiveN(t, openStream(t, sub, topic, 1, nil), 1, 30*time.Second)[0]; r.Msg.UUID != msgs[0].UUID {
		t.Errorf("next stream: %q; want the nacked %q", r.Msg.Payload, msgs[0].Payload)
	}
}

// TestForeignRecord: a record written by another client (key and headers,
// no ID header) is delivered with its key as the ordering key and
// herald-key metadata, its headers as metadata and a stable generated ID.
func TestForeignRecord(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("foreign")
	createTopic(t, target, topic, 3)
	st := openStream(t, openSubscription(t, withQuery(target, "group="+uniqueName("g"))), topic, 16, nil)
	cl := rawClient(t, target)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, &kgo.Record{
		Topic: topic, Key: []byte("order-7"), Value: []byte(`{"total":42}`),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}},
	})
	rec, err := res.First()
	if err != nil {
		t.Fatal(err)
	}
	r := receiveN(t, st, 1, 30*time.Second)[0]
	m := r.Msg
	if string(m.Payload) != `{"total":42}` || r.Key != "order-7" || herald.Key(m) != "order-7" {
		t.Errorf("payload %q key %q/%q", m.Payload, r.Key, herald.Key(m))
	}
	if m.Metadata.Get("content-type") != "application/json" || m.Metadata.Get("traceparent") == "" || len(m.Metadata) != 3 {
		t.Errorf("metadata %v: want the two headers and the key", m.Metadata)
	}
	if want := fmt.Sprintf("%s/%d/%d", topic, rec.Partition, rec.Offset); m.UUID != want {
		t.Errorf("generated ID %q, want %q", m.UUID, want)
	}
}

// TestHeraldRecord: what the driver sends reads, with a plain franz-go
// consumer, as a record whose key is the Herald key, on the partition the
// Java client picks (murmur2), with the ID and the metadata as headers.
func TestHeraldRecord(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("herald")
	const partitions = 6
	createTopic(t, target, topic, partitions)
	m := herald.NewMessage([]byte("payload"))
	herald.SetKey(m, "cust-42")
	herald.SetHeader(m, "content-type", "text/plain")
	herald.SetHeader(m, "tenant", "acme")
	sendSync(t, openTopic(t, target), topic, m)

	cl := rawClient(t, target, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetches := cl.PollRecords(ctx, 1)
	if err := ctx.Err(); err != nil {
		t.Fatalf("raw consumer got nothing: %v", err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("raw consumer: %d records, errors %v", len(recs), fetches.Errors())
	}
	rec := recs[0]
	if string(rec.Key) != "cust-42" || string(rec.Value) != "payload" {
		t.Errorf("record key %q value %q", rec.Key, rec.Value)
	}
	if want := int32(murmur2([]byte("cust-42"))&0x7fffffff) % partitions; rec.Partition != want {
		t.Errorf("record on partition %d; the Java client picks %d", rec.Partition, want)
	}
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{IDHeader: m.UUID, "content-type": "text/plain", "tenant": "acme"}
	if fmt.Sprint(headers) != fmt.Sprint(want) {
		t.Errorf("headers %v, want %v (the key is the record key, not a header)", headers, want)
	}
}

// TestStreamStatus: a stream cut off from the brokers reports a
// *herald.Error through StreamOptions.Status (no warn log of its own: the
// facade logs an outage once), and nil once it receives again; a record
// published meanwhile is delivered.
func TestStreamStatus(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("status"), uniqueName("g")
	tp := openTopic(t, target)
	sendSync(t, tp, topic, herald.NewMessage([]byte("before")))
	p, dial := proxied(t, target)
	logs := &logCapture{}
	sub := openSubscription(t, withQuery(target, "group="+group+"&session_timeout=30s"), dial)
	sub.log = slogOf(logs)
	status := newStatusLog()
	st := openStream(t, sub, topic, 16, status.report)
	st.Ack(receiveN(t, st, 1, 30*time.Second)[0].Token)

	p.Down()
	status.wait(t, "of an unreachable broker", 30*time.Second, func(err error) bool {
		var he *herald.Error
		return errors.As(err, &he) && he.Backend == "kafka" && he.Topic == topic && errors.Is(err, herald.ErrUnreachable)
	})
	late := herald.NewMessage([]byte("late"))
	sendSync(t, tp, topic, late)
	p.Up()
	status.wait(t, "nil (recovered)", 60*time.Second, func(err error) bool { return err == nil })
	for {
		r := receiveN(t, st, 1, 60*time.Second)[0]
		st.Ack(r.Token)
		if r.Msg.UUID == late.UUID {
			break
		}
	}
	if n, log := logs.warnings(); n != 0 {
		t.Errorf("%d warn lines; the driver logs at debug or info only. Log:\n%s", n, log)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	reports := len(status.all())
	time.Sleep(700 * time.Millisecond) // longer than the recovery probe's first wait
	if len(status.all()) != reports {
		t.Error("Status called after Close returned")
	}
}

// TestTopicDeletedReported: deleting the topic under a stream (group
// member or private consumer) is reported through Status.
func TestTopicDeletedReported(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	for _, group := range []string{"", uniqueName("g")} {
		t.Run("group="+group, func(t *testing.T) {
			t.Parallel()
			topic := uniqueName("deleted")
			q := ""
			if group != "" {
				q = "group=" + group
			}
			status := newStatusLog()
			openStream(t, openSubscription(t, withQuery(target, q)), topic, 16, status.report)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := kadmClient(t, target).DeleteTopic(ctx, topic); err != nil {
				t.Fatal(err)
			}
			status.wait(t, "of the deleted topic", 30*time.Second, func(err error) bool {
				var he *herald.Error
				return errors.As(err, &he) && he.Topic == topic
			})
		})
	}
}

var _ adapters.Stream = (*stream)(nil)
