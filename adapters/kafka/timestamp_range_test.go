package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestPropertiesTimeOutOfRange (attack18b): a Kafka record timestamp is
// non-negative milliseconds since the Unix epoch (-1 means "none"; the
// Java producer refuses a negative one), and franz-go computes it through
// time.Time.UnixNano, which overflows outside 1678-2262. Before, such a
// Properties.Time was sent: year 1 arrived as 1754-08-30, year 2300 as
// some other year, 1969 as a negative timestamp. Now it is refused with
// KindInvalid naming Properties.Time, before anything is sent. A time the
// broker refuses (after the topic's message.timestamp.after.max.ms; Kafka
// 4's default is one hour) comes back as KindInvalid too (the broker's
// INVALID_TIMESTAMP), not KindOther.
func TestPropertiesTimeOutOfRange(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("tsrange")
	adm := kadmClient(t, target)
	after := "60000"
	resp, err := adm.CreateTopic(context.Background(), 1, -1, map[string]*string{"message.timestamp.after.max.ms": &after}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })
	tp := openTopic(t, target)
	send := func(ts time.Time) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errc := make(chan error, 1)
		if err := tp.Send(ctx, topic, herald.NewMessage([]byte(ts.String())), adapters.SendOptions{Properties: herald.Properties{Time: ts}}, func(err error) { errc <- err }); err != nil {
			return err
		}
		return <-errc
	}
	for _, ts := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Unix(-100, 0),
		time.UnixMilli(-1),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		err := send(ts)
		var he *herald.Error
		if !errors.As(err, &he) || he.Kind != herald.KindInvalid || !strings.Contains(err.Error(), "Properties.Time") {
			t.Errorf("Properties.Time %v: %v; want KindInvalid naming Properties.Time", ts, err)
		}
	}
	if err := send(time.Now().Add(time.Hour)); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("Properties.Time an hour ahead, past the topic's message.timestamp.after.max.ms: %v; want herald.ErrInvalid", err)
	}
	for _, ts := range []time.Time{time.Unix(0, 0), time.Now().Add(-24 * time.Hour)} {
		if err := send(ts); err != nil {
			t.Errorf("Properties.Time %v: %v; want it sent", ts, err)
		}
	}
	offs, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != 2 {
		t.Errorf("%d records in the topic; want the 2 valid ones", n)
	}
}
