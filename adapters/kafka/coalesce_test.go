package kafka

import (
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// TestConcurrentSendsShareRequests (issue 15, item 4): 16 goroutines
// each sending one record and waiting for its answer share produce
// requests. Before the coalescer franz-go sent a request per free slot:
// 2.7 records per request on average; held while others are in flight,
// they go ~16 at a time.
func TestConcurrentSendsShareRequests(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	tp := openTopic(t, target)
	name := uniqueName("coalesce")
	sendSync(t, tp, name, herald.NewMessage([]byte("warm-up")))
	const callers, each = 16, 100
	before := tp.writes.n.Load()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range each {
				sendSync(t, tp, name, herald.NewMessage(make([]byte, 1024)))
			}
		})
	}
	wg.Wait()
	reqs := tp.writes.n.Load() - before
	perReq := float64(callers*each) / float64(reqs)
	t.Logf("%d records in %d produce requests: %.1f per request", callers*each, reqs, perReq)
	if perReq < 3.5 {
		t.Errorf("%.1f records per produce request with %d concurrent callers, want at least 3.5 (2.6 without coalescing)", perReq, callers)
	}
}

// TestCoalescerKeepsOrder: records reach franz-go in the order they were
// taken, whether they went at once (nothing in flight), waited for the
// timer, or filled the batch, while answers arrive concurrently.
func TestCoalescerKeepsOrder(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  []int
		recs = make(chan *kgo.Record, 1<<16)
	)
	c := newCoalescer(func(r *kgo.Record) {
		mu.Lock()
		got = append(got, int(r.Partition))
		mu.Unlock()
		recs <- r
	})
	done := make(chan struct{})
	go func() { // the broker: answers each record some time after it was produced
		defer close(done)
		for i := 0; i < 20000; i++ {
			<-recs
			c.answered()
		}
	}()
	for i := 0; i < 20000; i++ {
		c.take(&kgo.Record{Partition: int32(i)})
		if i%1000 == 999 {
			c.release() // as the timer would
		}
	}
	c.release()
	<-done
	if !c.idle() {
		t.Fatalf("in flight after every answer: %d", c.inflight.Load())
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("record %d reached franz-go as number %d", v, i)
		}
	}
	if len(got) != 20000 {
		t.Fatalf("%d records reached franz-go, want 20000", len(got))
	}
}
