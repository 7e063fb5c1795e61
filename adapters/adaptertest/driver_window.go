package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// quiet is how long a stream at its window must hand out nothing more for
// the window test to believe it holds (a negative can only be watched
// for a while).
const quiet = time.Second

// testDriverWindow: a stream never has more than StreamOptions.Window
// deliveries unsettled: Receive hands out at most Window (with a larger
// buffer), and, while Window are unsettled, nothing until one is settled;
// every message is received in the end. (A driver may hand out fewer:
// Window bounds, it does not promise.) Window 1 and 3. Every driver.
func testDriverWindow(t *testing.T, e *denv) {
	for _, window := range []int{1, 3} {
		t.Run(fmt.Sprintf("window%d", window), func(t *testing.T) {
			t.Parallel()
			e := e.in(t)
			const n = 8
			topic := e.topic("dwindow")
			st := e.openStream(e.openSub(e.group("dwindow")), topic, window)
			msgs := messages(n, "win")
			e.publish(t, e.openTopic(), topic, msgs...)
			buf := make([]adapters.Received, 2*n)
			var held []adapters.Received
			seen := map[string]bool{}
			most, watched := 0, 0
			for len(seen) < n {
				if watched >= 2 { // seen it hold: settle as received
					for _, r := range held {
						st.Ack(r.Token)
					}
					held = held[:0]
				}
				d := quiet // more than held now would be over the window, or is slow to come
				if len(held) == 0 {
					d = e.wait()
				}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				k, err := st.Receive(ctx, buf)
				cancel()
				held = append(held, buf[:k]...)
				for _, r := range buf[:k] {
					seen[r.Msg.UUID] = true
				}
				if len(held) > window {
					t.Fatalf("%d deliveries unsettled after Receive; Window is %d", len(held), window)
				}
				most = max(most, len(held))
				if err == nil {
					continue
				}
				if !errors.Is(err, context.DeadlineExceeded) || len(held) == 0 {
					t.Fatalf("Receive with %d unsettled, %d of %d messages received: %d, %v", len(held), len(seen), n, k, err)
				}
				watched++             // held at the window, or the driver hands out fewer
				st.Ack(held[0].Token) // one settled: one more may come
				held = held[1:]
			}
			t.Logf("window %d: at most %d unsettled at once", window, most)
		})
	}
}
