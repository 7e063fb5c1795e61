package sdktest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
)

// metricsReader collects from a ManualReader.
type metricsReader struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newMetricsReader(t *testing.T) *metricsReader {
	r := sdkmetric.NewManualReader()
	return &metricsReader{t: t, reader: r, mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))}
}

func (r *metricsReader) collect() map[string]metricdata.Aggregation {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmw.ScopeName {
			r.t.Errorf("scope %q; want %q", sm.Scope.Name, otelmw.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sum returns the value of an int64 sum for the points whose attributes
// include want.
func sum(t *testing.T, data map[string]metricdata.Aggregation, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	s, ok := data[name].(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: no int64 sum recorded (have %v)", name, keys(data))
	}
	var total int64
	for _, dp := range s.DataPoints {
		if hasAll(dp.Attributes, want) {
			total += dp.Value
		}
	}
	return total
}

func histCount(t *testing.T, data map[string]metricdata.Aggregation, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	h, ok := data[name].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: no histogram recorded", name)
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if hasAll(dp.Attributes, want) {
			n += dp.Count
		}
	}
	return n
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func keys(m map[string]metricdata.Aggregation) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

var (
	attrTopic = attribute.String("messaging.destination.name", "orders")
	attrGroup = attribute.String("messaging.consumer.group.name", "billing")
	attrMem   = attribute.String("herald.backend", "mem")
)

func TestMetricsConsume(t *testing.T) {
	r := newMetricsReader(t)
	pub := &fakePub{}
	inflight := make(chan int64, 1)
	h := chain(func(ctx context.Context, m *herald.Message) error {
		switch string(m.Payload) {
		case "poison":
			return errBoom
		case "panic":
			panic("kaboom")
		case "peek":
			inflight <- sum(t, r.collect(), otelmw.MetricInFlight, attrTopic)
		}
		return nil
	}, otelmw.Metrics(otelmw.WithMeterProvider(r.mp)), middleware.Deduplicate(), middleware.DeadLetter(pub, "dlq"),
		middleware.Retry(middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)), middleware.Recover())
	ctx := deliveryCtx("orders", "billing")
	dup := herald.NewMessage([]byte("ok"))
	for _, m := range []*herald.Message{dup, dup, herald.NewMessage([]byte("poison")), herald.NewMessage([]byte("peek"))} {
		if err := h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-inflight; got != 1 {
		t.Errorf("in-flight while handling = %d; want 1", got)
	}
	// A failure that is nacked, with no DeadLetter around it.
	bare := chain(func(context.Context, *herald.Message) error { panic("kaboom") },
		otelmw.Metrics(otelmw.WithMeterProvider(r.mp)), middleware.Recover())
	if err := bare.Handle(ctx, herald.NewMessage(nil)); err == nil {
		t.Fatal("want an error")
	}

	data := r.collect()
	for name, want := range map[string]int64{
		otelmw.MetricConsumed:     5,
		otelmw.MetricFailed:       1,
		otelmw.MetricRetried:      2,
		otelmw.MetricDeadLettered: 1,
		otelmw.MetricDuplicates:   1,
		otelmw.MetricInFlight:     0,
	} {
		if got := sum(t, data, name, attrMem, attrTopic, attrGroup); got != want {
			t.Errorf("%s = %d; want %d", name, got, want)
		}
	}
	if got := sum(t, data, otelmw.MetricFailed, attribute.String("error.type", "panic")); got != 1 {
		t.Errorf("failed{error.type=panic} = %d; want 1", got)
	}
	if got := histCount(t, data, otelmw.MetricHandlerDuration, attrTopic, attrGroup); got != 5 {
		t.Errorf("handler duration count = %d; want 5", got)
	}
}

func TestMetricsPublish(t *testing.T) {
	r := newMetricsReader(t)
	pub := &fakePub{fail: 1}
	p := herald.ChainPublish(pub.Publish, otelmw.PublishMetrics(otelmw.WithMeterProvider(r.mp)))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "orders"})
	_ = p(ctx, "orders", herald.NewMessage(nil))
	if err := p(ctx, "orders", herald.NewMessage(nil), herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	data := r.collect()
	if got := sum(t, data, otelmw.MetricPublished, attrMem, attrTopic); got != 2 {
		t.Errorf("published = %d; want 2", got)
	}
	if got := histCount(t, data, otelmw.MetricPublishDuration, attrTopic); got != 2 {
		t.Errorf("publish duration count = %d; want 2", got)
	}
	if got := histCount(t, data, otelmw.MetricPublishDuration, attribute.String("error.type", "_OTHER")); got != 1 {
		t.Errorf("failed publish duration count = %d; want 1", got)
	}
	if _, ok := data[otelmw.MetricPublishDuration].(metricdata.Histogram[float64]); !ok {
		t.Fatal("no publish histogram")
	}
}
