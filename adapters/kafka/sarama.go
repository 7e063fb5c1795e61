package kafka

import (
	"crypto/sha256"
	"crypto/sha512"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// saramaConfig builds the Sarama configuration shared by the producer, the
// consumers and the admin client. Retries and backoffs are tuned so that a
// broker outage of about 30 seconds is ridden out: a Publish waits for the
// broker to come back (and returns an error only when the outage outlasts
// the producer's retries), and consumers reconnect by themselves.
//
// Every connection is made by g, so aborting g interrupts whatever the
// configuration's user is waiting for; the retry backoffs drop to zero
// once g is aborted, so Sarama's retries then end at once.
func (s settings) saramaConfig(g *netGuard) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = s.clientID
	c.Version = s.version

	c.Net.DialTimeout = 10 * time.Second
	c.Net.Proxy.Enable = true // not a proxy: the guarded dialer
	c.Net.Proxy.Dialer = g
	c.Metadata.AllowAutoTopicCreation = false // topics are created with the configured partitions
	c.Metadata.Retry.Max = 6
	c.Metadata.Retry.BackoffFunc = g.backoff(250*time.Millisecond, 3*time.Second)
	c.Admin.Timeout = 15 * time.Second
	c.Admin.Retry.Max = 6
	c.Admin.Retry.Backoff = 500 * time.Millisecond

	c.Producer.RequiredAcks = s.acks
	c.Producer.Idempotent = s.idempotent
	if s.idempotent {
		c.Net.MaxOpenRequests = 1 // required by Sarama for idempotence
	}
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 16 // ~35 s of backoff in total
	c.Producer.Retry.BackoffFunc = g.backoff(100*time.Millisecond, 2500*time.Millisecond)
	c.Producer.Compression = s.compression
	c.Producer.MaxMessageBytes = s.maxMessageBytes
	c.Producer.Partitioner = NewKeyPartitioner

	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = s.initialOffset
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.Retry.BackoffFunc = func(retries int) time.Duration {
		return g.backoff(250*time.Millisecond, 2*time.Second)(retries, 0)
	}
	c.Consumer.Group.Session.Timeout = s.sessionTimeout
	// A session outlives a broker restart of up to session_timeout, so the
	// member keeps its partitions and its commits stay valid. Frequent
	// heartbeats let members notice a rebalance (a new member) sooner.
	c.Consumer.Group.Heartbeat.Interval = min(time.Second, s.sessionTimeout/3)
	c.Consumer.Group.Rebalance.Retry.Max = 8
	c.Consumer.Group.Rebalance.Retry.Backoff = time.Second

	if s.tls != nil {
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = s.tls.Clone()
	}
	if s.sasl != "" {
		c.Net.SASL.Enable = true
		c.Net.SASL.Handshake = true
		c.Net.SASL.Version = sarama.SASLHandshakeV1
		c.Net.SASL.Mechanism = s.sasl
		c.Net.SASL.User = s.username
		c.Net.SASL.Password = s.password
		switch s.sasl {
		case sarama.SASLTypeSCRAMSHA256:
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
		case sarama.SASLTypeSCRAMSHA512:
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
		}
	}
	return c
}

// backoff returns an exponential backoff: first for the first retry,
// doubling with each retry (Sarama counts them up), capped at max; zero
// once g is aborted.
func (g *netGuard) backoff(first, max time.Duration) func(retries, maxRetries int) time.Duration {
	return func(retries, _ int) time.Duration {
		if g.aborted() {
			return 0
		}
		d := first
		for i := 1; i < retries && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// scramClient implements sarama.SCRAMClient with github.com/xdg-go/scram.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
