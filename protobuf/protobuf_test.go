package protobuf_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/protobuf"
	"github.com/heraldkit/herald/protobuf/internal/orderpb"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func order() *orderpb.Order {
	return &orderpb.Order{Id: "order-1", Customer: "customer-7", Currency: "EUR", TotalCents: 2550, Status: orderpb.Status_STATUS_PLACED,
		Items: []*orderpb.Item{{Sku: "book-42", Quantity: 2, PriceCents: 1275}}}
}

// deliver publishes msg on mem:// and returns what h returned for it.
func deliver(t *testing.T, topic string, msg *herald.Message, h herald.Handler) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := "mem://protobuf-" + topic
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, topic, msg); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = sub.Subscribe(sctx, topic, func(ctx context.Context, m *herald.Message) error {
			err := h(ctx, m)
			select {
			case res <- err:
			default:
			}
			return nil
		})
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		t.Fatal("nothing delivered")
	}
	return nil
}

func TestPublishAndHandle(t *testing.T) {
	msg, err := protobuf.NewMessage(order())
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Metadata.Get(herald.ContentTypeHeader); ct != "application/protobuf" {
		t.Fatalf("content-type %q", ct)
	}
	var got *orderpb.Order
	err = deliver(t, "orders", msg, protobuf.Handler(func(_ context.Context, o *orderpb.Order, _ *herald.Message) error {
		got = o
		return nil
	}))
	if err != nil || !proto.Equal(got, order()) {
		t.Fatalf("handled %v, err %v; want %v", got, err, order())
	}
}

func TestDecodeFailuresArePermanent(t *testing.T) {
	called := false
	h := protobuf.Handler(func(context.Context, *orderpb.Order, *herald.Message) error { called = true; return nil })
	jsonMsg, _ := herald.NewJSONMessage(map[string]int{"a": 1})
	garbage := herald.NewMessage([]byte{0xff, 0xff, 0xff})
	garbage.Metadata.Set(herald.ContentTypeHeader, "application/x-protobuf")
	for name, m := range map[string]*herald.Message{"json content type": jsonMsg, "garbage": garbage} {
		if err := h(context.Background(), m); !herald.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if called {
		t.Error("the handler was called")
	}
	// No content type (a foreign producer): decoded.
	b, _ := proto.Marshal(order())
	if err := h(context.Background(), herald.NewMessage(b)); err != nil || !called {
		t.Fatalf("without a content type: %v", err)
	}
}

func TestCloudEvent(t *testing.T) {
	ev := cloudevents.Event{ID: "order-1-placed", Source: "/checkout", Type: "com.example.order.placed"}
	if err := protobuf.SetEventData(&ev, order()); err != nil {
		t.Fatal(err)
	}
	if ev.DataContentType != "application/protobuf" || ev.DataSchema != "https://type.googleapis.com/herald.example.v1.Order" {
		t.Fatalf("datacontenttype %q dataschema %q", ev.DataContentType, ev.DataSchema)
	}
	if mt, err := protoregistry.GlobalTypes.FindMessageByURL(ev.DataSchema); err != nil || mt.Descriptor().FullName() != "herald.example.v1.Order" {
		t.Fatalf("dataschema does not resolve: %v", err)
	}
	for _, mode := range []cloudevents.Mode{cloudevents.Binary, cloudevents.Structured} {
		msg, err := cloudevents.NewMessage("mem", ev, cloudevents.WithMode(mode))
		if err != nil {
			t.Fatal(err)
		}
		var got *orderpb.Order
		err = deliver(t, "events-"+mode.String(), msg, protobuf.EventHandler(func(_ context.Context, e cloudevents.Event, o *orderpb.Order, _ *herald.Message) error {
			got = o
			return nil
		}))
		if err != nil || !proto.Equal(got, order()) {
			t.Fatalf("%s: handled %v, err %v", mode, got, err)
		}
	}
	wrong := ev
	wrong.DataSchema = "https://type.googleapis.com/herald.example.v1.Item"
	if _, err := protobuf.EventData[*orderpb.Order](wrong); !herald.IsPermanent(err) {
		t.Errorf("another message type in dataschema: %v, want a permanent error", err)
	}
	wrong = ev
	if err := wrong.SetJSONData(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := protobuf.EventData[*orderpb.Order](wrong); !herald.IsPermanent(err) {
		t.Errorf("JSON data: %v, want a permanent error", err)
	}
}
