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
// buffer), then nothing until one is settled, then one more per
// settlement; every message is received in the end. Window 1 and 3.
// Every driver.
func testDriverWindow(t *testing.T, e *denv) {
	for _, window := range []int{1, 3} {
		t.Run(fmt.Sprintf("window%d", window), func(t *testing.T) {
			t.Parallel()
			e := e.in(t)
			const n = 8
			topic := topicName("dwindow")
			st := e.openStream(e.openSub(e.group("dwindow")), topic, window)
			msgs := messages(n, "win")
			e.publish(t, e.openTopic(), topic, msgs...)
			buf := make([]adapters.Received, 2*n)
			var held []adapters.Received
			seen := map[string]bool{}
			receive := func(d time.Duration) (int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				k, err := st.Receive(ctx, buf)
				held = append(held, buf[:k]...)
				for _, r := range buf[:k] {
					seen[r.Msg.UUID] = true
				}
				if len(held) > window {
					t.Fatalf("%d deliveries unsettled after Receive; Window is %d", len(held), window)
				}
				return k, err
			}
			// Fill the window.
			for len(held) < window {
				if _, err := receive(e.wait()); err != nil {
					t.Fatalf("Receive with %d of %d unsettled: %v", len(held), window, err)
				}
			}
			for round := 0; len(seen) < n; round++ {
				// At the window: Receive waits (watched in the first
				// rounds; later ones check the count only).
				if round < 2 {
					k, err := receive(quiet)
					if k != 0 || !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("Receive at the window (%d unsettled) = %d, %v; want 0 and the ctx's error after %v", window, k, err, quiet)
					}
				}
				// One settled: one more may come.
				st.Ack(held[0].Token)
				held = held[1:]
				if _, err := receive(e.wait()); err != nil {
					t.Fatalf("Receive after an Ack at the window (round %d): %v", round, err)
				}
			}
		})
	}
}
