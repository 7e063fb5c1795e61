package rabbitmq

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// TestPropertiesTimeBeforeEpochRefused (attack18b): the AMQP 0-9-1
// timestamp property is an unsigned 64-bit count of seconds since the
// Unix epoch; amqp091-go writes uint64(t.Unix()), so a Properties.Time
// before 1970 reached other clients (pika, the management UI) as a time
// some 584 billion years ahead, while Herald read it back as the time
// given. publishing refuses it with KindInvalid naming Properties.Time;
// the epoch itself and later times are taken.
func TestPropertiesTimeBeforeEpochRefused(t *testing.T) {
	m := newMsg("x")
	for _, ts := range []time.Time{time.Unix(-1, 0), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)} {
		_, err := publishing(m, herald.Properties{Time: ts})
		if err == nil || kindOf(err) != herald.KindInvalid || !strings.Contains(err.Error(), "Properties.Time") {
			t.Errorf("Properties.Time %v: %v; want KindInvalid naming Properties.Time", ts, err)
		}
	}
	for _, ts := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC)} {
		pub, err := publishing(m, herald.Properties{Time: ts})
		if err != nil || !pub.Timestamp.Equal(ts) {
			t.Errorf("Properties.Time %v: timestamp %v, %v; want it", ts, pub.Timestamp, err)
		}
	}
}
