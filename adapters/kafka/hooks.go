package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
)

// hooks plugs into watermill-kafka through its SaramaTracer extension
// point, the one place where it hands out the Sarama objects it creates.
// It traces nothing: it wraps the consumer-group handler so the stream
// learns when partitions are assigned (see groupHandler), and a private
// consumer's partition consumers so their errors reach the stream.
type hooks struct{ st *stream }

var _ wmkafka.SaramaTracer = hooks{}

func (h hooks) WrapConsumer(c sarama.Consumer) sarama.Consumer {
	return consumer{Consumer: c, st: h.st}
}

func (h hooks) WrapPartitionConsumer(pc sarama.PartitionConsumer) sarama.PartitionConsumer {
	return pc
}

func (h hooks) WrapConsumerGroupHandler(inner sarama.ConsumerGroupHandler) sarama.ConsumerGroupHandler {
	return groupHandler{ConsumerGroupHandler: inner, st: h.st}
}

func (h hooks) WrapSyncProducer(_ *sarama.Config, p sarama.SyncProducer) sarama.SyncProducer {
	return p
}

// consumer is a private consumer: watermill-kafka does not read its
// partition consumers' errors, so it does.
type consumer struct {
	sarama.Consumer
	st *stream
}

func (c consumer) ConsumePartition(topic string, partition int32, offset int64) (sarama.PartitionConsumer, error) {
	pc, err := c.Consumer.ConsumePartition(topic, partition, offset)
	if err != nil {
		return nil, err
	}
	go func() { // ends when the partition consumer closes its error channel
		for e := range pc.Errors() {
			c.st.fail(fmt.Sprintf("partition %d", partition), e)
		}
	}()
	return pc, nil
}

// groupHandler wraps watermill-kafka's handler. Setup runs once partitions
// are assigned and their committed offsets fetched, before any record is
// consumed: it records the session (to mark acked offsets) and reports the
// subscription ready (so Subscribe returns only when the member really
// takes part in the group) or recovered.
type groupHandler struct {
	sarama.ConsumerGroupHandler
	st *stream
}

func (g groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	if g.st.sub.set.initialOffset == sarama.OffsetNewest {
		g.st.sub.pinNewest(sess)
	}
	g.st.setSession(sess)
	g.st.markReady()
	g.st.recovered()
	return g.ConsumerGroupHandler.Setup(sess)
}

// wmLogger is the Watermill logger given to a stream's watermill-kafka
// subscriber. Errors, and info lines that carry one, go to the stream
// (see stream.fail): logged at warn level and reported as a lost
// subscription. Other info and debug lines go to the adapter's logger at
// debug level; trace lines are dropped.
type wmLogger struct {
	st     *stream
	fields watermill.LogFields
}

func (l wmLogger) Error(msg string, err error, _ watermill.LogFields) {
	if err == nil {
		err = errors.New("(no error given)")
	}
	l.st.fail(msg, err)
}

func (l wmLogger) Info(msg string, fields watermill.LogFields) {
	if e, ok := fields["err"]; ok {
		l.st.fail(msg, fmt.Errorf("%v", e))
		return
	}
	l.Debug(msg, fields)
}

func (l wmLogger) Debug(msg string, fields watermill.LogFields) {
	log := l.st.sub.log
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args := make([]any, 0, 2*len(fields)+2*len(l.fields))
	for k, v := range l.fields.Add(fields) {
		args = append(args, k, v)
	}
	log.Debug("herald/kafka: watermill-kafka: "+msg, args...)
}

func (l wmLogger) Trace(string, watermill.LogFields) {}

func (l wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{st: l.st, fields: l.fields.Add(fields)}
}
