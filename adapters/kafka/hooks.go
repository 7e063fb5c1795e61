package kafka

import (
	"sync"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
)

// hooks plugs into watermill-kafka through its SaramaTracer extension
// point, the one place where it hands out the Sarama objects it creates.
// It traces nothing: it captures the publisher's SyncProducer (for As) and
// wraps the consumer-group handler so the subscriber learns when partitions
// are assigned (see groupHandler).
type hooks struct {
	producer *sarama.SyncProducer // set by WrapSyncProducer, for publishers
	sub      *Subscriber          // for subscribers
}

var _ wmkafka.SaramaTracer = hooks{}

func (h hooks) WrapConsumer(c sarama.Consumer) sarama.Consumer { return c }

func (h hooks) WrapPartitionConsumer(pc sarama.PartitionConsumer) sarama.PartitionConsumer {
	return pc
}

func (h hooks) WrapConsumerGroupHandler(inner sarama.ConsumerGroupHandler) sarama.ConsumerGroupHandler {
	if h.sub == nil {
		return inner
	}
	return groupHandler{ConsumerGroupHandler: inner, sub: h.sub}
}

func (h hooks) WrapSyncProducer(_ *sarama.Config, p sarama.SyncProducer) sarama.SyncProducer {
	if h.producer != nil {
		*h.producer = p
	}
	return p
}

// groupHandler wraps watermill-kafka's handler. Setup runs once partitions
// are assigned and their committed offsets fetched, before any record is
// consumed: it records the session (to mark acked offsets) and reports the
// subscription ready, so Subscribe returns only when the member really
// takes part in the group.
type groupHandler struct {
	sarama.ConsumerGroupHandler
	sub *Subscriber
}

func (g groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	if st, ok := sess.Context().Value(streamKey{}).(*stream); ok {
		if g.sub.set.initialOffset == sarama.OffsetNewest {
			g.sub.pinNewest(sess)
		}
		st.setSession(sess)
		st.markReady()
	}
	return g.ConsumerGroupHandler.Setup(sess)
}

// errorLog is the Watermill logger given to watermill-kafka: silent, but it
// keeps the last error so a Subscribe that cannot get ready can say why.
type errorLog struct {
	mu   sync.Mutex
	last error
}

func (l *errorLog) Error(msg string, err error, _ watermill.LogFields) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		return
	}
	l.last = &loggedError{msg: msg, err: err}
}

func (l *errorLog) Info(string, watermill.LogFields)  {}
func (l *errorLog) Debug(string, watermill.LogFields) {}
func (l *errorLog) Trace(string, watermill.LogFields) {}

func (l *errorLog) With(watermill.LogFields) watermill.LoggerAdapter { return l }

// lastError returns the last error logged, or nil.
func (l *errorLog) lastError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

type loggedError struct {
	msg string
	err error
}

func (e *loggedError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *loggedError) Unwrap() error { return e.err }
