package natsx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// errNoStream is wrapped when no stream captures a topic and Herald may
// not create or change one (KindInvalid).
var errNoStream = errors.New("no stream captures the topic")

// target is where a topic's messages live.
type target struct {
	stream string
	// dedicated: the stream was made for this topic alone (named after
	// it), so consumer names need not mention the topic.
	dedicated bool
}

// provisioner finds or creates the stream of each topic once, then
// remembers it; forget drops a topic whose stream went away.
type provisioner struct {
	js  jetstream.JetStream
	set *Settings

	mu sync.Mutex
	m  map[string]*provision

	sched schedules // the topics whose stream takes message schedules
}

type provision struct {
	done chan struct{}
	t    target
	err  error
}

func newProvisioner(js jetstream.JetStream, set *Settings) *provisioner {
	return &provisioner{js: js, set: set, m: map[string]*provision{}}
}

// ensure returns the topic's target, provisioning it on first use.
// Concurrent callers for one topic share one provisioning; a caller whose
// context ends stops waiting, and if it was the one provisioning, the
// others try again with their own context.
func (p *provisioner) ensure(ctx context.Context, topic string) (target, error) {
	for {
		p.mu.Lock()
		e, ok := p.m[topic]
		if !ok {
			e = &provision{done: make(chan struct{})}
			p.m[topic] = e
			p.mu.Unlock()
			e.t, e.err = p.provision(ctx, topic)
			if e.err != nil {
				p.forget(topic)
			}
			close(e.done)
			return e.t, e.err
		}
		p.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return target{}, ctx.Err()
		}
		if e.err != nil && ctx.Err() == nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) {
			continue // another caller's context ended
		}
		return e.t, e.err
	}
}

// known returns the topic's target when it was provisioned already.
func (p *provisioner) known(topic string) (target, bool) {
	p.mu.Lock()
	e, ok := p.m[topic]
	p.mu.Unlock()
	if !ok {
		return target{}, false
	}
	select {
	case <-e.done:
		return e.t, e.err == nil
	default:
		return target{}, false
	}
}

// forget makes the next ensure for topic look the stream up again, and
// the next ensureSchedules check its schedules again.
func (p *provisioner) forget(topic string) {
	p.mu.Lock()
	delete(p.m, topic)
	p.mu.Unlock()
	p.sched.m.Delete(topic)
}

func (p *provisioner) provision(ctx context.Context, topic string) (target, error) {
	if p.set.Stream != "" {
		return p.shared(ctx, topic)
	}
	for attempt := 0; ; attempt++ {
		name, err := p.js.StreamNameBySubject(ctx, topic)
		if err == nil {
			return p.found(ctx, topic, name)
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return target{}, fmt.Errorf("looking up the stream of the topic: %w", err)
		}
		if !p.set.Provision {
			return target{}, fmt.Errorf("%w and provision=false: create one (nats stream add) or allow provisioning", errNoStream)
		}
		name = StreamName(topic)
		_, err = p.js.CreateStream(ctx, p.streamConfig(name, []string{topic}))
		if err == nil {
			return target{stream: name, dedicated: true}, nil
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt == 0 {
			continue // created concurrently with another configuration: look again
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return target{}, fmt.Errorf("the topic maps to stream %q, which exists for other subjects; set the stream option to share one stream: %w", name, err)
		}
		return target{}, fmt.Errorf("creating stream %q: %w", name, err)
	}
}

// found returns the target for the existing stream name that captures
// topic. The stream is the topic's own (consumer names need not mention
// the topic) only if it bears the name Herald gives the topic's stream
// and captures that one subject alone.
func (p *provisioner) found(ctx context.Context, topic, name string) (target, error) {
	t := target{stream: name}
	if name != StreamName(topic) && name != legacyStreamName(topic) {
		return t, nil
	}
	st, err := p.js.Stream(ctx, name)
	if err != nil {
		return t, fmt.Errorf("looking up stream %q: %w", name, err)
	}
	// The schedule subjects of delayed delivery hold no topic's
	// messages: a stream with them is still the topic's own.
	subj := slices.DeleteFunc(slices.Clone(st.CachedInfo().Config.Subjects), isSchedulePattern)
	t.dedicated = len(subj) == 1 && subj[0] == topic
	return t, nil
}

// shared provisions topic in the configured stream, creating the stream
// or adding the subject as needed.
func (p *provisioner) shared(ctx context.Context, topic string) (target, error) {
	name := p.set.Stream
	t := target{stream: name}
	for attempt := 0; attempt < 3; attempt++ {
		st, err := p.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if !p.set.Provision {
				return t, fmt.Errorf("%w: stream %q does not exist and provision=false", errNoStream, name)
			}
			subjects := p.set.Subjects
			if len(subjects) == 0 {
				subjects = []string{topic}
			}
			if !covers(subjects, topic) {
				return t, fmt.Errorf("%w: the topic is not in the subjects option %v of stream %q", errNoStream, subjects, name)
			}
			_, err = p.js.CreateStream(ctx, p.streamConfig(name, subjects))
			if err == nil {
				return t, nil
			}
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue
			}
			return t, fmt.Errorf("creating stream %q: %w", name, err)
		}
		if err != nil {
			return t, fmt.Errorf("looking up stream %q: %w", name, err)
		}
		cfg := st.CachedInfo().Config
		if covers(cfg.Subjects, topic) {
			return t, nil
		}
		if !p.set.Provision {
			return t, fmt.Errorf("%w: stream %q does not capture the topic (subjects %v) and provision=false", errNoStream, name, cfg.Subjects)
		}
		cfg.Subjects = append(cfg.Subjects, topic)
		if _, err := p.js.UpdateStream(ctx, cfg); err != nil {
			return t, fmt.Errorf("adding the subject to stream %q: %w", name, err)
		}
		// Loop to verify: a concurrent update may have replaced the subjects.
	}
	return t, fmt.Errorf("stream %q kept changing while adding the subject", name)
}

func (p *provisioner) streamConfig(name string, subjects []string) jetstream.StreamConfig {
	dup := p.set.Duplicates
	if p.set.MaxAge > 0 && dup > p.set.MaxAge {
		dup = p.set.MaxAge
	}
	return jetstream.StreamConfig{
		Name:        name,
		Description: "created by Herald",
		Subjects:    subjects,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     p.set.Storage,
		Replicas:    p.replicas(),
		MaxAge:      p.set.MaxAge,
		Duplicates:  dup,
	}
}

// replicas is the replica count of a stream Herald creates: the replicas
// option, or with auto (the default) autoReplicas for the server it is
// connected to.
func (p *provisioner) replicas() int {
	if p.set.Replicas != ReplicasAuto {
		return p.set.Replicas
	}
	nc := p.js.Conn()
	return autoReplicas(nc.ConnectedClusterName(), len(nc.Servers()))
}

// autoReplicas is 1 on a server that is not in a cluster (no cluster
// name), else min(3, servers): the servers the client knows, those of
// the URL and those the cluster advertised. Three replicas keep a stream
// writable and readable while one server is down, and an acknowledged
// publish is on two servers; more cost writes without surviving more in
// a three-node cluster.
func autoReplicas(cluster string, servers int) int {
	if cluster == "" || servers < 1 {
		return 1
	}
	return min(3, servers)
}
