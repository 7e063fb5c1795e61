package benchkit

import (
	"context"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

func init() { AsyncPublish = publishAsync }

// publishAsync publishes messages 0..r.N-1 from one goroutine through
// Publisher.PublishAsync, then Flush; it returns the first failure.
func publishAsync(ctx context.Context, pub *publisher.Publisher, topic string, r *Run) error {
	var once sync.Once
	var first error
	done := func(_ *herald.Message, err error) {
		if err != nil {
			once.Do(func() { first = err })
		}
	}
	r.Start()
	for seq := 0; seq < r.N; seq++ {
		if err := pub.PublishAsync(ctx, topic, herald.NewMessage(r.Payload(seq)), done); err != nil {
			return err
		}
	}
	if err := pub.Flush(ctx); err != nil {
		return err
	}
	r.Published()
	once.Do(func() {})
	return first
}
