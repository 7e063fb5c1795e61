package kafka

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// produceCounter counts the produce requests a client writes.
type produceCounter struct{ n atomic.Int64 }

func (c *produceCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil { // 0: Produce
		c.n.Add(1)
	}
}

// TestPublishContextPipelines: concurrent PublishContext calls share
// produce requests (a publisher that waited for each call's round trip
// before sending the next would write one request per call), and each
// returns nil once its own record was acknowledged.
func TestPublishContextPipelines(t *testing.T) {
	target := adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")
	t.Parallel()
	s, err := parse(mustParse(t, target))
	if err != nil {
		t.Fatal(err)
	}
	counter := &produceCounter{}
	s.extra = []kgo.Opt{kgo.WithHooks(counter)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := newPublisher(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	topic := "pipeline." + herald.NewMessage(nil).UUID
	if err := p.PublishContext(ctx, topic, herald.NewMessage([]byte("warm-up"))); err != nil {
		t.Fatal(err)
	}
	const calls = 64
	before := counter.n.Load()
	start := make(chan struct{})
	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- p.PublishContext(ctx, topic, herald.NewMessage(make([]byte, 1024)))
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("PublishContext: %v", err)
		}
	}
	requests := counter.n.Load() - before
	t.Logf("%d concurrent PublishContext calls: %d produce requests", calls, requests)
	if requests > calls/2 {
		t.Errorf("%d concurrent PublishContext calls wrote %d produce requests; want them to share requests (at most %d)", calls, requests, calls/2)
	}
}
