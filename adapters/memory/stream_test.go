package memory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

var streamSeq atomic.Int64

func memFixture() natsxtest.Fixture {
	return natsxtest.Fixture{
		Publisher: func(t *testing.T) message.Publisher {
			p, err := adapters.OpenPublisher(context.Background(), "mem://stream")
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Subscriber: func(t *testing.T, group string) message.Subscriber {
			s, err := adapters.OpenSubscriber(context.Background(), "mem://stream?group="+group)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Topic: func(*testing.T) string { return fmt.Sprintf("stream.%d.%d", time.Now().UnixNano(), streamSeq.Add(1)) },
	}
}

func TestStreamWindow(t *testing.T)    { natsxtest.StreamWindow(t, memFixture()) }
func TestStreamNack(t *testing.T)      { natsxtest.StreamNack(t, memFixture()) }
func TestPublishAsyncAll(t *testing.T) { natsxtest.PublishAsyncAll(t, memFixture()) }
