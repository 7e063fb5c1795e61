package outbox

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldkit/herald"
)

// PublishAt writes msgs for topic into the outbox, in tx, for delivery
// at at: nothing is sent unless tx commits, and a relay sends them at
// at, never before (by the relay's clock), and at most its poll interval
// after (WithPollInterval; a few milliseconds when the relay learned of
// them before at, from a poll or its Notifier, since it sets a timer for
// the earliest due row). Until then the rows wait in the outbox's
// delayed table (<table>_delayed), in the database: they survive the
// relay, the application and the database restarting; a relay that was
// down sends them once it runs again. Any backend gets them, Kafka
// included, as a Publish at their due time would: the publisher's own
// PublishAt and the backend's Capabilities.Delay are not used.
//
// Order: when a delayed row comes due, the relay moves it into the
// outbox behind every row of its key written or moved before; rows moved
// together go in due-time order, then in the order written. So a key's
// messages are sent in the order they came due, a row written with
// Publish being due at once, and a row not yet due never holds back its
// key's other rows. A delivery time not after now writes msgs as Publish
// does; the zero time is refused.
func (s *Store) PublishAt(ctx context.Context, tx *sql.Tx, topic string, at time.Time, msgs ...*herald.Message) error {
	if at.IsZero() {
		return errors.New("outbox: publish at: the delivery time is the zero time.Time; use Publish to publish at once")
	}
	return s.publishAt(ctx, tx, topic, at, msgs)
}

// PublishAfter is PublishAt(ctx, tx, topic, time.Now().Add(d), msgs...):
// the delay counts from the call, not from the commit.
func (s *Store) PublishAfter(ctx context.Context, tx *sql.Tx, topic string, d time.Duration, msgs ...*herald.Message) error {
	return s.publishAt(ctx, tx, topic, time.Now().Add(d), msgs)
}

func (s *Store) publishAt(ctx context.Context, tx *sql.Tx, topic string, at time.Time, msgs []*herald.Message) error {
	if !at.After(time.Now()) {
		return s.write(ctx, tx, "publish", topic, time.Time{}, msgs)
	}
	return s.write(ctx, tx, "publish at", topic, at, msgs)
}
