package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// topicWait bounds how long a new topic may take to get partition leaders.
const topicWait = 30 * time.Second

// admin is the metadata/admin connection of one publisher or subscriber.
// It creates each topic once, with the configured partition count, and
// remembers the topics it has seen.
type admin struct {
	client sarama.Client
	ca     sarama.ClusterAdmin
	detail sarama.TopicDetail

	mu     sync.Mutex
	topics map[string]*topicState
}

type topicState struct {
	mu    sync.Mutex
	ready bool
}

func newAdmin(brokers []string, conf *sarama.Config, s settings) (*admin, error) {
	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		return nil, fmt.Errorf("herald/kafka: connect to %v: %w", brokers, err)
	}
	ca, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("herald/kafka: admin client for %v: %w", brokers, err)
	}
	maxBytes := strconv.Itoa(s.maxMessageBytes)
	return &admin{
		client: client,
		ca:     ca,
		detail: sarama.TopicDetail{
			NumPartitions:     s.partitions,
			ReplicationFactor: s.replicationFactor,
			ConfigEntries:     map[string]*string{"max.message.bytes": &maxBytes},
		},
		topics: map[string]*topicState{},
	}, nil
}

// close closes the admin client and its connection.
func (a *admin) close() error { return a.ca.Close() }

// ensure makes sure topic exists and every partition has a leader,
// creating it when missing. Success is remembered; failures are retried by
// the next call.
func (a *admin) ensure(ctx context.Context, topic string) error {
	a.mu.Lock()
	st := a.topics[topic]
	if st == nil {
		st = &topicState{}
		a.topics[topic] = st
	}
	a.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ready {
		return nil
	}
	if err := a.create(ctx, topic); err != nil {
		return err
	}
	st.ready = true
	return nil
}

func (a *admin) create(ctx context.Context, topic string) error {
	detail := a.detail
	err := a.ca.CreateTopic(topic, &detail, false)
	switch {
	case err == nil, errors.Is(err, sarama.ErrTopicAlreadyExists):
	case errors.Is(err, sarama.ErrTopicAuthorizationFailed), errors.Is(err, sarama.ErrClusterAuthorizationFailed),
		errors.Is(err, sarama.ErrPolicyViolation), errors.Is(err, sarama.ErrInvalidConfig):
		// Not allowed to create topics (or to set max.message.bytes): fine
		// if the topic exists already, which waitLeaders finds out.
		if werr := a.waitLeaders(ctx, topic, 0); werr != nil {
			return fmt.Errorf("herald/kafka: create topic %q: %w (and it does not exist: %v)", topic, err, werr)
		}
		return nil
	default:
		return fmt.Errorf("herald/kafka: create topic %q: %w", topic, err)
	}
	return a.waitLeaders(ctx, topic, topicWait)
}

// waitLeaders waits up to d until the topic's metadata lists partitions,
// each with a leader that answers offset requests. (Right after creation,
// KRaft brokers may list a leader that does not serve the partition yet.)
func (a *admin) waitLeaders(ctx context.Context, topic string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := a.leadersReady(topic)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("herald/kafka: topic %q not ready: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("herald/kafka: waiting for topic %q: %w", topic, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (a *admin) leadersReady(topic string) error {
	if err := a.client.RefreshMetadata(topic); err != nil {
		return err
	}
	parts, err := a.client.Partitions(topic)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return sarama.ErrLeaderNotAvailable
	}
	for _, p := range parts {
		if _, err := a.client.Leader(topic, p); err != nil {
			return err
		}
		if _, err := a.client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return err
		}
	}
	return nil
}
