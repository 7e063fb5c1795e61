package embedded_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

var seq atomic.Int64

func topic() string { return fmt.Sprintf("herald.embedded.t%d.%d", time.Now().UnixNano(), seq.Add(1)) }

func target(dir, query string) string {
	u := "embedded://" + dir
	if query != "" {
		u += "?" + query
	}
	return u
}

// fixture drives the embedded driver on dir with base query options.
func fixture(dir, base string) natsxtest.Fixture {
	return natsxtest.Fixture{
		Driver: embedded.Driver{},
		Config: func(t testing.TB, group, query string) herald.Config {
			q := base
			if query != "" {
				if q != "" {
					q += "&"
				}
				q += query
			}
			cfg, err := herald.ParseURL(target(dir, q))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Group = group
			return cfg
		},
		Topic: func(testing.TB) string { return topic() },
	}
}

// serverFixture is fixture on a fresh directory whose server stays up for
// the whole test (a topic opened first keeps it).
func serverFixture(t testing.TB) natsxtest.Fixture {
	f := fixture(t.TempDir(), "")
	f.OpenTopic(t, "")
	return f
}

// openTopic opens a topic the test closes itself.
func openTopic(t testing.TB, f natsxtest.Fixture, query string) adapters.Topic {
	t.Helper()
	tp, err := f.Driver.OpenTopic(context.Background(), f.Config(t, "", query), natsxtest.Env())
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// openSubscription opens a subscription the test closes itself.
func openSubscription(t testing.TB, f natsxtest.Fixture, group, query string) adapters.Subscription {
	t.Helper()
	s, err := f.Driver.OpenSubscription(context.Background(), f.Config(t, group, query), natsxtest.Env())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publishN publishes n messages and returns their IDs.
func publishN(t testing.TB, tp adapters.Topic, topic string, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, n)
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		ids[i] = msgs[i].UUID
	}
	natsxtest.MustPublish(t, tp, topic, msgs...)
	return ids
}

// receiveIDs acks, one by one, and returns the IDs of n deliveries, in
// order.
func receiveIDs(t testing.TB, st adapters.Stream, n int, wait time.Duration) []string {
	t.Helper()
	var ids []string
	deadline := time.Now().Add(wait)
	for len(ids) < n {
		d := natsxtest.ReceiveN(t, st, 1, time.Until(deadline))[0]
		st.Ack(d.Token)
		ids = append(ids, d.Msg.UUID)
	}
	return ids
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
