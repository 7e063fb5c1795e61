package cetest

import (
	"context"
	"strings"
	"testing"
	"time"

	natssdk "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/nats"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// natsStream creates a stream capturing "<name>.>" (sdk-go's sender
// wants one named after its subject's first token; Herald uses the stream
// that captures a topic) and deletes it at the end.
func natsStream(t *testing.T) (target string, conn *nats.Conn, stream string) {
	t.Helper()
	target = adaptertest.BrokerURL(t, "HERALD_TEST_NATS")
	u, _, _ := strings.Cut(target, "?")
	conn, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	stream = "CETEST_" + herald.NewID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	return target, conn, stream
}

// The subject carries what the NATS binding percent-encodes: blanks,
// non-ASCII and '%'.
const natsSubject = "orders/1 (Euro € 😀) 100%"

// TestNATSSDKToHerald: an event sent by sdk-go's JetStream binding is read
// by Herald's NATS backend with every attribute and extension, in binary
// mode (ce- headers, raw UTF-8 values: sdk-go does not percent-encode,
// Herald's lenient decoding keeps a '%' that starts no escape) and
// structured mode (sdk-go sends no Content-Type header: Herald recognises
// the JSON event format in the payload).
func TestNATSSDKToHerald(t *testing.T) {
	target, conn, stream := natsStream(t)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := stream + ".to-herald-" + mode.String()
			sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("to-herald-"+mode.String()))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Prepare(ctx, topic); err != nil {
				t.Fatal(err)
			}
			sender, err := natssdk.NewSenderFromConn(conn, stream, topic, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := "sdk-" + herald.NewID()
			ev := sdkEvent(id, natsSubject)
			sctx := ctx
			if mode == cloudevents.Structured {
				sctx = binding.WithForceStructured(ctx)
			}
			if err := sender.Send(sctx, binding.ToMessage(&ev)); err != nil {
				t.Fatal(err)
			}
			got := receiveHerald(t, ctx, sub, topic)
			checkHerald(t, got.ev, id, natsSubject, mode)
			// A foreign message's ID is its stream position, not the event ID.
			if !strings.HasPrefix(got.id, stream+":") {
				t.Errorf("Herald message ID %q, want %s:<sequence>", got.id, stream)
			}
		})
	}
}

// TestNATSHeraldToSDK: an event Herald publishes on NATS JetStream is read
// by sdk-go's JetStream binding with every attribute and extension. In
// binary mode sdk-go v2.16.2 does not percent-decode, so it sees the
// subject as Herald encoded it (the binding's rule); everything else,
// ASCII without blanks, is unchanged. Structured mode is exact.
func TestNATSHeraldToSDK(t *testing.T) {
	target, conn, stream := natsStream(t)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := stream + ".to-sdk-" + mode.String()
			pub, err := publisher.Open(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			id := "herald-" + herald.NewID()
			if err := cloudevents.Publish(ctx, pub, topic, "", heraldEvent(id, natsSubject), cloudevents.WithMode(mode)); err != nil {
				t.Fatal(err)
			}
			consumer, err := natssdk.NewConsumerFromConn(conn, stream, topic, nil, []nats.SubOpt{nats.DeliverAll()})
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = consumer.OpenInbound(ctx) }()
			defer consumer.Close(ctx)
			msg, err := consumer.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer msg.Finish(nil)
			wantEnc, subject := binding.EncodingBinary, "orders/1%20(Euro%20%E2%82%AC%20%F0%9F%98%80)%20100%25"
			if mode == cloudevents.Structured {
				wantEnc, subject = binding.EncodingStructured, natsSubject
			}
			if enc := msg.ReadEncoding(); enc != wantEnc {
				t.Errorf("sdk-go sees encoding %v, want %v", enc, wantEnc)
			}
			got, err := binding.ToEvent(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			checkSDK(t, *got, id, subject)
		})
	}
}
