package herald

import (
	"context"
	"testing"
)

type testKey struct{}

func TestDeliveryContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), testKey{}, "v"))
	outer := ContextWithDelivery(parent, Delivery{Backend: "mem", Topic: "a"})
	inner := ContextWithDelivery(outer, Delivery{Backend: "mem", Topic: "b", Group: "g", Attempt: 2})

	if d, ok := DeliveryFromContext(inner); !ok || d.Topic != "b" || d.Group != "g" || d.Attempt != 2 {
		t.Errorf("inner delivery = %+v, %v; want topic b, group g, attempt 2", d, ok)
	}
	if d, ok := DeliveryFromContext(outer); !ok || d.Topic != "a" {
		t.Errorf("outer delivery = %+v, %v; want topic a", d, ok)
	}
	if _, ok := DeliveryFromContext(parent); ok {
		t.Error("a context without a delivery reports one")
	}
	if v, _ := inner.Value(testKey{}).(string); v != "v" {
		t.Errorf("parent value through the delivery context = %q, want v", v)
	}
	// Cancellation passes through, to contexts derived from it too.
	child, stop := context.WithCancel(inner)
	defer stop()
	cancel()
	<-child.Done()
	if inner.Err() != context.Canceled {
		t.Errorf("inner.Err() = %v after the parent was cancelled", inner.Err())
	}
}

func BenchmarkContextWithDelivery(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := ContextWithDelivery(ctx, Delivery{Backend: "nats", Topic: "t", Attempt: 1})
		if _, ok := DeliveryFromContext(c); !ok {
			b.Fatal("no delivery")
		}
	}
}
