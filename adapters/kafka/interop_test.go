package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/kafka"
)

// TestInteropForeignRecord: a record written by another client (key and
// headers, no ID header) is consumed with its key as herald-key, its
// headers as metadata and a stable generated ID.
func TestInteropForeignRecord(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("foreign")
	ch := subscribe(t, openSub(t, withQuery(target, "group="+uniqueName("g"))), topic)

	producer, err := sarama.NewSyncProducerFromClient(saramaClient(t, target))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	part, off, err := producer.SendMessage(&sarama.ProducerMessage{
		Topic: topic,
		Key:   sarama.StringEncoder("order-7"),
		Value: sarama.StringEncoder(`{"total":42}`),
		Headers: []sarama.RecordHeader{
			{Key: []byte("content-type"), Value: []byte("application/json")},
			{Key: []byte("traceparent"), Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := receive(t, ch, 1, 30*time.Second)[0]
	if string(m.Payload) != `{"total":42}` {
		t.Errorf("payload %q", m.Payload)
	}
	if got := herald.Key(m); got != "order-7" {
		t.Errorf("key %q, want order-7", got)
	}
	if m.Metadata.Get("content-type") != "application/json" || m.Metadata.Get("traceparent") == "" {
		t.Errorf("headers not in metadata: %v", m.Metadata)
	}
	if want := fmt.Sprintf("%s/%d/%d", topic, part, off); m.UUID != want {
		t.Errorf("generated ID %q, want %q", m.UUID, want)
	}
	if len(m.Metadata) != 3 {
		t.Errorf("metadata %v: want the two headers and the key", m.Metadata)
	}
}

// TestInteropHeraldRecord: what Herald publishes reads, with a raw Sarama
// consumer, as a record whose key is the Herald key (on the partition the
// Java client would pick) and whose headers are the metadata and the ID;
// a stock watermill-kafka subscriber reads the same ID.
func TestInteropHeraldRecord(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("herald")
	m := herald.NewMessage([]byte("payload"))
	herald.SetKey(m, "cust-42")
	herald.SetHeader(m, "content-type", "text/plain")
	herald.SetHeader(m, "tenant", "acme")
	publish(t, openPub(t, target), topic, m)

	client := saramaClient(t, target)
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	recs := make(chan *sarama.ConsumerMessage, 1)
	for _, p := range parts {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for r := range pc.Messages() {
				recs <- r
			}
		}()
	}
	var rec *sarama.ConsumerMessage
	select {
	case rec = <-recs:
	case <-time.After(30 * time.Second):
		t.Fatal("raw consumer got nothing")
	}
	if string(rec.Key) != "cust-42" || string(rec.Value) != "payload" {
		t.Errorf("record key %q value %q", rec.Key, rec.Value)
	}
	want := kafka.NewKeyPartitioner(topic)
	if p, _ := want.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder("cust-42")}, int32(len(parts))); p != rec.Partition {
		t.Errorf("record on partition %d; the Java partitioner picks %d", rec.Partition, p)
	}
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	wantHeaders := map[string]string{kafka.IDHeader: m.UUID, "content-type": "text/plain", "tenant": "acme"}
	if fmt.Sprint(headers) != fmt.Sprint(wantHeaders) {
		t.Errorf("headers %v, want %v (the key is the record key, not a header)", headers, wantHeaders)
	}

	conf := wmkafka.DefaultSaramaSubscriberConfig()
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	wm, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
		Brokers: brokers(t, target), ConsumerGroup: uniqueName("wm"), OverwriteSaramaConfig: conf,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wch, err := wm.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, wch, 1, 30*time.Second)[0]
	if got.UUID != m.UUID || got.Metadata.Get("tenant") != "acme" {
		t.Errorf("watermill-kafka read ID %q metadata %v; want ID %q", got.UUID, got.Metadata, m.UUID)
	}
}

// TestInteropWatermillPublisher: what a plain watermill-kafka publisher
// (v3, on Sarama) writes reaches a Herald subscriber, through Subscribe
// and through Stream, with its ID, metadata and partition key (the record
// key is the Herald key).
func TestInteropWatermillPublisher(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("wmpub")
	sub := openSub(t, withQuery(target, "group="+uniqueName("g")))
	ch := subscribe(t, sub, topic)
	st := openStream(t, openSub(t, withQuery(target, "group="+uniqueName("g"))), topic, 8)

	wp, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
		Brokers: brokers(t, target),
		Marshaler: wmkafka.NewWithPartitioningMarshaler(func(_ string, m *message.Message) (string, error) {
			return m.Metadata.Get("customer"), nil
		}),
		OverwriteSaramaConfig: wmkafka.DefaultSaramaSyncPublisherConfig(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wp.Close()
	m := message.NewMessage(watermill.NewUUID(), []byte("from watermill"))
	m.Metadata.Set("customer", "cust-9")
	m.Metadata.Set("tenant", "acme")
	if err := wp.Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	check := func(how string, got *message.Message) {
		t.Helper()
		if got.UUID != m.UUID || string(got.Payload) != "from watermill" || got.Metadata.Get("tenant") != "acme" ||
			got.Metadata.Get("customer") != "cust-9" || herald.Key(got) != "cust-9" {
			t.Errorf("%s: ID %q payload %q metadata %v; want ID %q, the metadata and herald key cust-9", how, got.UUID, got.Payload, got.Metadata, m.UUID)
		}
	}
	check("Subscribe", receive(t, ch, 1, 30*time.Second)[0])
	d := receiveN(t, st, 1, 30*time.Second)[0]
	check("Stream", d.Msg)
	if d.Key != "cust-9" {
		t.Errorf("Stream delivery key %q; want the record key cust-9", d.Key)
	}
	st.Ack(d)
}

// TestAs: the escape hatch reaches the franz-go objects it documents,
// and only those.
func TestAs(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	type aser interface{ As(any) bool }
	pub := openPub(t, target).(aser)
	var client *kgo.Client
	var admin *kadm.Client
	if !pub.As(&client) || client == nil || !pub.As(&admin) || admin == nil {
		t.Errorf("publisher As: %v %v", client, admin)
	}
	if _, err := admin.ListTopics(context.Background()); err != nil {
		t.Errorf("admin from As: %v", err)
	}
	sub := openSub(t, target).(aser)
	client, admin = nil, nil
	if !sub.As(&client) || client == nil || !sub.As(&admin) || admin == nil {
		t.Errorf("subscriber As: %v %v", client, admin)
	}
	var other *message.Router
	var wp *wmkafka.Publisher
	var sync sarama.SyncProducer
	if pub.As(&other) || sub.As(&other) || pub.As(&wp) || pub.As(&sync) {
		t.Error("As accepted a target it cannot set")
	}
}
