package embedded_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func embeddedFixture(t *testing.T) natsxtest.Fixture {
	dir := t.TempDir()
	keep := openPub(t, target(dir, "")) // keeps the server up for the whole test
	_ = keep
	return natsxtest.Fixture{
		Publisher:      func(t *testing.T) message.Publisher { return openPub(t, target(dir, "")) },
		Subscriber:     func(t *testing.T, group string) message.Subscriber { return openSub(t, target(dir, "group="+group)) },
		Topic:          func(*testing.T) string { return topic() },
		CountsAttempts: true,
	}
}

func TestStreamWindow(t *testing.T)    { natsxtest.StreamWindow(t, embeddedFixture(t)) }
func TestStreamNack(t *testing.T)      { natsxtest.StreamNack(t, embeddedFixture(t)) }
func TestPublishAsyncAll(t *testing.T) { natsxtest.PublishAsyncAll(t, embeddedFixture(t)) }
func TestPublishAsyncTooLarge(t *testing.T) {
	natsxtest.PublishAsyncTooLarge(t, embeddedFixture(t), embedded.MaxPayload)
}
