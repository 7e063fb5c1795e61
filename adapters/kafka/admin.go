package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/backoff"
)

// topicWait bounds how long a new topic may take to get partition leaders.
const topicWait = 30 * time.Second

// requestTimeout bounds one admin request.
const requestTimeout = 15 * time.Second

// errInvalidTopic is the cause of a topic name Kafka does not allow.
var errInvalidTopic = kerr.InvalidTopicException

// admin is the metadata/admin connection of one publisher or subscriber.
// It creates each topic once, with the configured partition count, and
// remembers the topics it has seen.
type admin struct {
	cl      *kgo.Client
	adm     *kadm.Client
	set     settings
	configs map[string]*string
	ctx     context.Context // done when the owner closes
	wg      sync.WaitGroup  // running attempts

	mu     sync.Mutex
	topics map[string]*topicState
}

// topicState is what admin knows of one topic. At most one attempt to
// create it runs at a time; callers wait for it as long as their context
// allows, and a later call starts a new attempt after a failure.
type topicState struct {
	ready   bool
	attempt chan struct{} // non-nil while an attempt runs; closed when it ends
	err     error         // the last attempt's error
}

// newAdmin builds the admin on cl (which its owner closes). ctx ends
// when the owner closes.
func newAdmin(ctx context.Context, cl *kgo.Client, s settings) *admin {
	maxBytes := strconv.Itoa(s.maxMessageBytes)
	return &admin{
		cl:      cl,
		adm:     kadm.NewClient(cl),
		set:     s,
		ctx:     ctx,
		configs: map[string]*string{"max.message.bytes": &maxBytes},
		topics:  map[string]*topicState{},
	}
}

// close waits for the running attempts (they end once the owner's
// context is done).
func (a *admin) close() { a.wg.Wait() }

// known reports whether topic is known to exist (no I/O).
func (a *admin) known(topic string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.topics[topic]
	return st != nil && st.ready
}

// ensure makes sure topic exists and every partition has a leader,
// creating it when missing. It returns when ctx ends (the attempt goes on
// in the background, for the next call). Success is remembered; a failure
// is retried by the next call.
func (a *admin) ensure(ctx context.Context, topic string) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	a.mu.Lock()
	st := a.topics[topic]
	if st == nil {
		st = &topicState{}
		a.topics[topic] = st
	}
	if st.ready {
		a.mu.Unlock()
		return nil
	}
	if st.attempt == nil {
		if a.ctx.Err() != nil {
			a.mu.Unlock()
			return herald.ErrClosed
		}
		st.attempt = make(chan struct{})
		a.wg.Add(1)
		go a.run(topic, st, st.attempt)
	}
	done := st.attempt
	a.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return ctxErr(ctx, nil)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.ready {
		return nil
	}
	return st.err
}

func (a *admin) run(topic string, st *topicState, done chan struct{}) {
	defer a.wg.Done()
	err := a.create(a.ctx, topic)
	a.mu.Lock()
	st.err, st.ready, st.attempt = err, err == nil, nil
	a.mu.Unlock()
	close(done)
}

// validTopic checks a topic name against Kafka's rules, so that a bad name
// fails at once instead of after the broker's retries.
func validTopic(topic string) error {
	const allowed = "1 to 249 characters: letters, digits, '.', '_', '-' (not \".\" or \"..\")"
	if topic == "" || len(topic) > 249 || topic == "." || topic == ".." {
		return fmt.Errorf("%w: not a valid Kafka topic name (allowed: %s)", errInvalidTopic, allowed)
	}
	for _, c := range topic {
		if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: not a valid Kafka topic name: %q is not allowed (allowed: %s)", errInvalidTopic, c, allowed)
		}
	}
	return nil
}

func (a *admin) create(ctx context.Context, topic string) error {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	rf, minISR, err := a.topicReplication(rctx)
	if err == nil {
		configs := a.configs
		if minISR != nil {
			configs = maps.Clone(a.configs)
			configs["min.insync.replicas"] = minISR
		}
		_, err = a.adm.CreateTopic(rctx, a.set.partitions, rf, configs, topic)
	}
	cancel()
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.InvalidConfig):
		// Not allowed to create topics (or to set max.message.bytes): fine
		// if the topic exists already, which waitLeaders finds out.
		if werr := a.waitLeaders(ctx, topic, 0); werr != nil {
			return fmt.Errorf("create topic: %w (and it does not exist: %v)", err, werr)
		}
		return nil
	default:
		return fmt.Errorf("create topic: %w", err)
	}
	return a.waitLeaders(ctx, topic, topicWait)
}

// waitLeaders waits up to d until the topic's metadata lists partitions,
// each with a leader that answers offset requests. (Right after creation,
// KRaft brokers may list a leader that does not serve the partition yet.)
func (a *admin) waitLeaders(ctx context.Context, topic string, d time.Duration) error {
	deadline := time.Now().Add(d)
	retry := backoff.Policy{Base: 50 * time.Millisecond, Limit: time.Second}.Start()
	for {
		err := a.leadersReady(ctx, topic)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || a.ctx.Err() != nil {
			return fmt.Errorf("topic not ready after %v: %w", d, err)
		}
		if !backoff.Wait(ctx, min(retry.Next(), time.Until(deadline)+time.Millisecond)) && ctx.Err() != nil {
			return fmt.Errorf("waiting for the topic's partition leaders: %w", ctxErr(ctx, err))
		}
	}
}

// leadersReady checks that topic has partitions, each with a leader that
// answers an offset request.
func (a *admin) leadersReady(ctx context.Context, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ends, err := a.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if len(ends) == 0 {
		return kerr.LeaderNotAvailable
	}
	return nil
}

// endOffsets returns the end offset of every partition of topic.
func (a *admin) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	md, err := a.adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	switch {
	case !ok:
		return nil, kerr.UnknownTopicOrPartition
	case td.Err != nil:
		return nil, td.Err
	case len(td.Partitions) == 0:
		return nil, kerr.LeaderNotAvailable
	}
	for _, p := range td.Partitions {
		if p.Err != nil {
			return nil, p.Err
		}
		if p.Leader < 0 {
			return nil, kerr.LeaderNotAvailable
		}
	}
	listed, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := listed.Error(); err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	if len(ends) != len(td.Partitions) {
		return nil, kerr.LeaderNotAvailable
	}
	return ends, nil
}
