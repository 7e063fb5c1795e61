package nats_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
	hnats "github.com/heraldkit/herald/adapters/nats"
)

// The JetStream checks shared with the embedded driver, on the shared
// broker.
func TestStreamWindow(t *testing.T) { natsxtest.StreamWindow(t, fixture(t, "", "")) }
func TestStreamNack(t *testing.T)   { natsxtest.StreamNack(t, fixture(t, "", "")) }
func TestValid(t *testing.T)        { natsxtest.Valid(t, fixture(t, "", "")) }
func TestSendAll(t *testing.T)      { natsxtest.SendAll(t, fixture(t, "", "")) }
func TestPrepare(t *testing.T)      { natsxtest.Prepare(t, fixture(t, "", "")) }

// TestSlowHandlersNoDuplicates is issue 14 item 5: window 2, one handler
// at a time taking 600ms, ack_wait=1s: every message handled once.
func TestSlowHandlersNoDuplicates(t *testing.T) {
	natsxtest.SlowHandlersNoDuplicates(t, fixture(t, "", ""))
}

func TestPrivateConsumer(t *testing.T) { natsxtest.PrivateConsumer(t, fixture(t, "", "")) }

func TestSendTooLarge(t *testing.T) {
	f := fixture(t, "", "")
	f.OpenTopic(t, "") // learns the server's max_payload
	limit := hnats.Driver{}.Capabilities(f.Config(t, "", "")).MaxMessageSize
	if limit <= 0 {
		t.Fatalf("MaxMessageSize %d after a connection, want the server's max_payload", limit)
	}
	natsxtest.SendTooLarge(t, f, limit)
}

func TestAfterClose(t *testing.T) {
	natsxtest.AfterClose(t, fixture(t, "", ""), "nats")
	t.Run("core", func(t *testing.T) { natsxtest.AfterClose(t, fixture(t, "", "mode=core"), "nats") })
}

func TestSendLeavesMessage(t *testing.T) {
	for _, q := range []string{"", "mode=core"} {
		t.Run(q, func(t *testing.T) { natsxtest.SendLeavesMessage(t, fixture(t, "", q)) })
	}
}

// TestCapabilities: what the driver declares for each mode.
func TestCapabilities(t *testing.T) {
	f := fixture(t, "", "")
	js := hnats.Driver{}.Capabilities(f.Config(t, "", ""))
	want := adapters.Capabilities{Durable: true, Groups: true, Redelivery: adapters.RedeliverBroker, NackDelay: true,
		CountsAttempts: true, Order: adapters.OrderQueue, MaxMessageSize: js.MaxMessageSize, DefaultWindow: 1024,
		Delay:   adapters.DelayCapabilities{Max: 7*24*time.Hour - 1500*time.Millisecond, Precision: 1500 * time.Millisecond, Durable: true, Ordered: true},
		Request: adapters.RequestCaps{Path: adapters.RequestInbox}, Timestamps: true}
	if js != want {
		t.Errorf("JetStream: %+v, want %+v", js, want)
	}
	if c := (hnats.Driver{}).Capabilities(f.Config(t, "", "max_age=1h")); c.Delay.Max != time.Hour-1500*time.Millisecond {
		t.Errorf("max_age=1h: Delay.Max %v; want 1h less the precision", c.Delay.Max)
	}
	if c := (hnats.Driver{}).Capabilities(f.Config(t, "", "storage=memory")); c.Durable {
		t.Error("storage=memory declared durable")
	}
	core := hnats.Driver{}.Capabilities(f.Config(t, "", "mode=core"))
	want = adapters.Capabilities{Groups: true, Redelivery: adapters.RedeliverLocal, Order: adapters.OrderQueue,
		MaxMessageSize: core.MaxMessageSize, DefaultWindow: 256, Request: adapters.RequestCaps{Path: adapters.RequestInbox, FailFast: true}}
	if core != want {
		t.Errorf("core: %+v, want %+v", core, want)
	}
	f.OpenTopic(t, "mode=core")
	if n := (hnats.Driver{}).Capabilities(f.Config(t, "", "mode=core")).MaxMessageSize; n <= 0 {
		t.Errorf("MaxMessageSize %d after a connection", n)
	}
}

// The driver is what the registry returns for nats://.
func TestRegistered(t *testing.T) {
	d, err := adapters.Lookup("nats")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(hnats.Driver); !ok {
		t.Errorf("Lookup(nats) = %T", d)
	}
}

// TestDelayOnExistingStream: see natsxtest.DelayOnExistingStream.
func TestDelayOnExistingStream(t *testing.T) {
	natsxtest.DelayOnExistingStream(t, fixture(t, "", ""))
}

// TestDelayOnInterestStream: see natsxtest.DelayOnInterestStream.
func TestDelayOnInterestStream(t *testing.T) {
	natsxtest.DelayOnInterestStream(t, fixture(t, "", ""))
}

// TestDelayAfterStreamRecreated: see natsxtest.DelayAfterStreamRecreated.
func TestDelayAfterStreamRecreated(t *testing.T) {
	natsxtest.DelayAfterStreamRecreated(t, fixture(t, "", ""))
}

// TestForeignMessages: see natsxtest.ForeignMessages.
func TestForeignMessages(t *testing.T) { natsxtest.ForeignMessages(t, fixture(t, "", "")) }
