package chaos

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// loadWorkers is how many goroutines call Publish at once.
const loadWorkers = 16

// load publishes one message per Publish call at rate messages per second
// (paced by a ticker; a slot not taken while every worker waits on the
// broker is skipped, so an outage does not queue a burst), keyed over
// keys keys, until stop.
type load struct {
	pub   *publisher.Publisher
	topic string
	rate  int
	keys  int
	t     *tally

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startLoad(pub *publisher.Publisher, topic string, rate, keys int, t *tally) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{pub: pub, topic: topic, rate: rate, keys: keys, t: t, cancel: cancel}
	slots := make(chan int, loadWorkers)
	l.wg.Add(1)
	go func() { // pacer: hands out sequence numbers
		defer l.wg.Done()
		defer close(slots)
		const tick = 10 * time.Millisecond
		tk := time.NewTicker(tick)
		defer tk.Stop()
		start, seq := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				due := int(now.Sub(start).Seconds() * float64(rate))
				for ; seq < due; seq++ {
					select {
					case slots <- seq:
					default: // every worker busy: skip the slot
					}
				}
			}
		}
	}()
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for w := 0; w < loadWorkers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := range slots {
				key := seq % keys
				m := herald.NewMessage(payload)
				m.UUID = strconv.Itoa(seq)
				herald.SetKey(m, "key-"+strconv.Itoa(key))
				t.send(seq, key)
				t.result(seq, pub.Publish(context.Background(), topic, m))
			}
		}()
	}
	return l
}

// stop ends the load and waits for the Publish calls in flight.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}
