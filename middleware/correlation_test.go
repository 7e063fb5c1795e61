package middleware_test

import (
	"context"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func TestCorrelationIDFlowsFromConsumedToPublished(t *testing.T) {
	pub := &fakePub{}
	publish := herald.ChainPublish(pub.Publish, middleware.PublishCorrelationID())
	h := chain(func(ctx context.Context, m *herald.Message) error {
		return publish(ctx, "next", herald.NewMessage([]byte("onward")))
	}, middleware.CorrelationID())

	in := herald.NewMessage(nil)
	in.Metadata.Set(middleware.CorrelationIDHeader, "corr-1")
	if err := h.Handle(deliveryCtx("t", ""), in); err != nil {
		t.Fatal(err)
	}
	// Without a header, the consumed message's ID becomes the correlation ID.
	in2 := herald.NewMessage(nil)
	if err := h.Handle(deliveryCtx("t", ""), in2); err != nil {
		t.Fatal(err)
	}
	out := pub.messages()
	if got := out[0].msg.Metadata.Get(middleware.CorrelationIDHeader); got != "corr-1" {
		t.Errorf("published correlation ID = %q; want corr-1", got)
	}
	if got := out[1].msg.Metadata.Get(middleware.CorrelationIDHeader); got != in2.UUID {
		t.Errorf("published correlation ID = %q; want the consumed message's ID %q", got, in2.UUID)
	}
}

func TestPublishCorrelationIDGeneratesOne(t *testing.T) {
	pub := &fakePub{}
	publish := herald.ChainPublish(pub.Publish, middleware.PublishCorrelationID())
	keep := herald.NewMessage(nil)
	keep.Metadata.Set(middleware.CorrelationIDHeader, "mine")
	a, b := herald.NewMessage(nil), herald.NewMessage(nil)
	if err := publish(context.Background(), "t", a, b, keep); err != nil {
		t.Fatal(err)
	}
	ida, idb := a.Metadata.Get(middleware.CorrelationIDHeader), b.Metadata.Get(middleware.CorrelationIDHeader)
	if ida == "" || ida != idb {
		t.Errorf("batch correlation IDs %q, %q; want one generated ID for both", ida, idb)
	}
	if got := keep.Metadata.Get(middleware.CorrelationIDHeader); got != "mine" {
		t.Errorf("existing header overwritten: %q", got)
	}
	if got := middleware.CorrelationIDFromContext(pub.messages()[0].ctx); got != ida {
		t.Errorf("ctx passed on carries %q; want %q", got, ida)
	}
	if got := middleware.CorrelationIDFromContext(context.Background()); got != "" {
		t.Errorf("empty ctx carries %q", got)
	}
}
