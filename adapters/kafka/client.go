package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/heraldkit/herald/internal/backoff"
)

// clientOpts builds the franz-go options shared by the producer, the
// consumers and the admin client. Every connection is made by g, so
// aborting g interrupts whatever a client is waiting for.
func (s settings) clientOpts(g *netGuard) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.brokers...),
		kgo.ClientID(s.clientID),
		kgo.MaxVersions(s.kafkaVersions()),
		kgo.Dialer(g.with(s).DialContext),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			if g.aborted() {
				// Cut off: retries fail at once, and at most one per
				// MinDelay (never a spin).
				return backoff.MinDelay
			}
			return backoff.Exp(tries, 100*time.Millisecond, 2*time.Second)
		}),
		kgo.MetadataMinAge(500 * time.Millisecond),
		// The broker enforces max.message.bytes per topic; the producer
		// batches up to the configured size.
		kgo.ProducerBatchMaxBytes(int32(min(s.maxMessageBytes, 1<<30))),
		kgo.ProducerBatchCompression(s.compression),
		kgo.RecordPartitioner(newPartitioner()),
		// Records wait for a broker that is down until their Send's
		// context ends (the record's context), not for a retry count.
		kgo.RecordRetries(1 << 30),
		kgo.UnknownTopicRetries(1 << 30),
		kgo.WithLogger(nil),
	}
	switch s.acks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !s.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if m := s.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return append(opts, s.extra...)
}

// saslMechanism returns franz-go's mechanism for s.sasl, nil without SASL.
func (s settings) saslMechanism() sasl.Mechanism {
	switch s.sasl {
	case saslPlain:
		return plain.Auth{User: s.username, Pass: s.password}.AsMechanism()
	case saslSCRAMSHA256:
		return scram.Auth{User: s.username, Pass: s.password}.AsSha256Mechanism()
	case saslSCRAMSHA512:
		return scram.Auth{User: s.username, Pass: s.password}.AsSha512Mechanism()
	}
	return nil
}

// stickyBytes is how much keyless data goes to one partition before the
// partitioner moves on (the Java client's default batch.size).
const stickyBytes = 16 << 10

// newPartitioner is the producer's partitioner: franz-go's
// UniformBytesPartitioner with keys hashed by Kafka's murmur2, the Java
// client's default (a key's partition is (murmur2(key) & 0x7fffffff) %
// partitions, so Herald, Kafka Streams, Java and most other clients put a
// key on the same partition); keyless records stick to one partition per
// 16 KiB so that concurrent sends share batches.
func newPartitioner() kgo.Partitioner {
	return kgo.UniformBytesPartitioner(stickyBytes, true, true, nil)
}
