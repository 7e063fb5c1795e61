package natsx

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Delayed delivery uses JetStream message schedules (ADR-51, nats-server
// 2.12+): the message is stored in the topic's stream under a schedule
// subject of its own with the headers
//
//	Nats-Schedule: @at <RFC3339>
//	Nats-Schedule-Target: <topic>
//
// and the server publishes it to the topic at that time, in the same
// stream, then purges the schedule. The stream must allow message
// schedules (allow_msg_schedules, which also needs roll-ups allowed and
// discard old) and capture the schedule subjects; a server keeps one
// schedule per subject, so each message gets a subject of its own.

// delayPrefix begins every schedule subject: "_herald_delay.<topic>.<id>".
const delayPrefix = "_herald_delay."

// delayPrecision is what a JetStream delay may be late: the time is
// rounded up to the second (@at takes RFC3339 seconds) and the server's
// scheduler fires at most every 250 ms.
const delayPrecision = 1500 * time.Millisecond

// DelayCapabilities is what message schedules do with set: no limit but
// the stream's max_age (a schedule older than it is dropped), second
// precision, durable on file storage, and equal times in publish order
// (the server publishes the schedules due together in stream order).
func DelayCapabilities(set Settings) adapters.DelayCapabilities {
	max := time.Duration(math.MaxInt64)
	if set.MaxAge > 0 {
		max = set.MaxAge - delayPrecision
	}
	return adapters.DelayCapabilities{
		Max:       max,
		Precision: delayPrecision,
		Durable:   set.Storage == jetstream.FileStorage,
		Ordered:   true,
	}
}

// scheduleSubject returns a new schedule subject for a message to topic.
// The subject's tokens are the prefix, the topic's and one of nuid's
// (no dots), so two topics never share a schedule subject and two
// messages never do.
func scheduleSubject(topic string) string { return delayPrefix + topic + "." + nuid.Next() }

// schedulePattern is the stream subject that captures topic's schedule
// subjects.
func schedulePattern(topic string) string { return delayPrefix + topic + ".*" }

// isSchedulePattern reports whether subject is schedulePattern of some
// topic, which the stream does not hold messages of.
func isSchedulePattern(subject string) bool {
	return strings.HasPrefix(subject, delayPrefix) && strings.HasSuffix(subject, ".*")
}

// atHeader is the Nats-Schedule value for at: RFC3339 in UTC, rounded up
// to the second so that the message is never delivered before at.
func atHeader(at time.Time) string {
	s := at.Truncate(time.Second)
	if s.Before(at) {
		s = s.Add(time.Second)
	}
	return "@at " + s.UTC().Format(time.RFC3339)
}

// schedule turns nm, filled for topic, into the schedule of m for at.
func schedule(nm *nats.Msg, topic string, m *herald.Message, at time.Time) {
	subject := scheduleSubject(topic)
	nm.Subject = subject
	nm.Header[jetstream.ScheduleHeader] = []string{atHeader(at)}
	nm.Header[jetstream.ScheduleTargetHeader] = []string{topic}
	if m.UUID != "" {
		// The schedule's own dedup ID: a resend of it is one schedule,
		// while the same message published at once to the topic (or
		// scheduled again) is not taken for a duplicate of it.
		nm.Header[nats.MsgIdHdr] = []string{DedupID(subject, m.UUID)}
	}
}

// schedules remembers, per topic, that its stream takes schedules and
// what its max_age is; forget drops a topic with its provision (its
// stream may be gone, and a new one takes no schedules yet).
type schedules struct {
	mu sync.Mutex // serialises the first check of each topic
	m  sync.Map   // topic -> time.Duration; read and dropped without mu
}

// ensureSchedules makes topic's stream take message schedules for topic
// and returns the stream's max_age. An existing stream is updated
// (allow_msg_schedules, roll-ups allowed, purge allowed, the schedule
// subjects added) when provisioning is allowed: enabling schedules is
// one-way, a server refuses to disable them afterwards.
func (p *provisioner) ensureSchedules(ctx context.Context, topic string) (time.Duration, error) {
	p.sched.mu.Lock()
	defer p.sched.mu.Unlock()
	if age, ok := p.sched.m.Load(topic); ok {
		return age.(time.Duration), nil
	}
	t, err := p.ensure(ctx, topic)
	if err != nil {
		return 0, err
	}
	st, err := p.js.Stream(ctx, t.stream)
	if err != nil {
		return 0, fmt.Errorf("looking up stream %q: %w", t.stream, err)
	}
	cfg := st.CachedInfo().Config
	pattern := schedulePattern(topic)
	covered := covers(cfg.Subjects, delayPrefix+topic+".x")
	if cfg.Retention == jetstream.InterestPolicy {
		// An interest stream keeps a message only while a consumer
		// filters on its subject, and none filters on a schedule
		// subject: the server would ack the schedule and drop it.
		return 0, fmt.Errorf("%w: stream %q has interest retention, which drops a message schedule (delayed delivery) at once: no consumer filters on its subject; use a stream with limits or work-queue retention", errNoStream, t.stream)
	}
	if !cfg.AllowMsgSchedules || !covered {
		switch {
		case cfg.Mirror != nil || len(cfg.Sources) > 0:
			return 0, fmt.Errorf("%w: stream %q is a mirror or has sources, which cannot allow message schedules (delayed delivery)", errNoStream, t.stream)
		case cfg.Discard == jetstream.DiscardNew:
			return 0, fmt.Errorf("%w: stream %q discards new messages, which message schedules (delayed delivery) do not allow", errNoStream, t.stream)
		case !p.set.Provision:
			return 0, fmt.Errorf("%w: stream %q must allow message schedules (allow_msg_schedules=%v) and capture %q for delayed delivery, and provision=false", errNoStream, t.stream, cfg.AllowMsgSchedules, pattern)
		}
		cfg.AllowMsgSchedules, cfg.AllowRollup, cfg.DenyPurge = true, true, false
		if !covered {
			cfg.Subjects = append(slices.Clone(cfg.Subjects), pattern)
		}
		if _, err := p.js.UpdateStream(ctx, cfg); err != nil {
			return 0, fmt.Errorf("allowing message schedules on stream %q: %w", t.stream, err)
		}
	}
	p.sched.m.Store(topic, cfg.MaxAge)
	return cfg.MaxAge, nil
}

// ensureSchedules is ensure for a delayed message to topic due at at: the
// stream takes schedules, and keeps the schedule until at.
func (t *Topic) ensureSchedules(ctx context.Context, topic string, at time.Time) error {
	if err := t.ensure(ctx, topic); err != nil {
		return err
	}
	var age time.Duration
	err := t.retryLookup(ctx, topic, "the stream's message schedules", func(actx context.Context) (err error) {
		age, err = t.prov.ensureSchedules(actx, topic)
		return err
	})
	if err != nil {
		return err
	}
	if age > 0 && time.Until(at) > age-delayPrecision {
		return Error(t.scheme, opPublish, topic, herald.KindInvalid, fmt.Errorf("the delivery time is %v away, past the stream's max_age %v: the stream would drop the schedule first", time.Until(at).Round(time.Second), age))
	}
	return nil
}
