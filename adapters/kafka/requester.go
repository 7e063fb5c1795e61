package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/replies"
)

const (
	opRequest = "request to"
	opReply   = "reply to"
	// ReplyTopicPrefix starts the name of every requester's reply topic:
	// "herald-reply-" and a ULID of its own (letters and digits only, no
	// '.' or '_', which Kafka's metric names confuse), so the names of
	// two requesters never meet, nor a topic of the application's unless
	// it uses the prefix.
	ReplyTopicPrefix = "herald-reply-"
	// replyRetention bounds what a reply topic keeps should its client
	// die before Close deleted it.
	replyRetention = "3600000" // 1h
)

// requester is Kafka's adapters.Requester: one reply topic per requester
// (one partition, created at open, deleted at Close) read by one consumer
// without a group from its start; a request carries the topic in the
// herald-reply-to header and a token in herald-correlation-id, which the
// responder's reply repeats. Requests and replies are produced by one
// franz-go producer (the publish side's, acks and idempotence as
// configured). Kafka cannot tell that nobody consumes a topic: a request
// nobody answers waits for its deadline.
//
// A client that dies without Close leaves its reply topic behind, with a
// retention of an hour; the prefix (ReplyTopicPrefix) lets an operator
// find and delete them.
type requester struct {
	pub   *topic
	cons  *kgo.Client
	adm   *kadm.Client
	name  string // the reply topic
	table *replies.Table
	log   *slog.Logger

	closed atomic.Bool
	once   sync.Once
	polled chan struct{} // closed when the poll loop returned
	err    error
}

func newRequester(ctx context.Context, s settings, log *slog.Logger) (*requester, error) {
	pub, err := newTopic(ctx, s, log)
	if err != nil {
		return nil, err
	}
	r := &requester{pub: pub, adm: kadm.NewClient(pub.cl), name: ReplyTopicPrefix + herald.NewID(), table: replies.New(), log: log, polled: make(chan struct{})}
	one := s
	one.partitions = 1
	a := newAdmin(pub.guard.ctx, pub.cl, one)
	a.configs["retention.ms"] = ptr(replyRetention)
	if err := a.ensure(ctx, r.name); err != nil {
		_ = pub.Close(context.Background())
		return nil, opError("open requester", r.name, fmt.Errorf("create the reply topic: %w", err))
	}
	g := newNetGuard(s.connectTimeout, 0)
	cons, err := connect(ctx, "requester", s, g,
		kgo.ConsumeTopics(r.name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // the topic is new: every record in it is a reply of ours
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		g.abort()
		r.deleteTopic()
		_ = pub.Close(context.Background())
		return nil, err
	}
	r.cons = cons
	go r.poll()
	return r, nil
}

func ptr(s string) *string { return &s }

// poll hands each reply to its request until Close.
func (r *requester) poll() {
	defer close(r.polled)
	for {
		fetches := r.cons.PollFetches(context.Background())
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			r.log.Debug("herald/kafka: reply topic fetch error", "topic", t, "partition", p, "error", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			var token string
			for _, h := range rec.Headers {
				if h.Key == adapters.CorrelationHeader {
					token = string(h.Value)
				}
			}
			if token != "" {
				r.table.Deliver(token, replies.Result{Msg: newMessage(rec)})
			}
		})
	}
}

// Request implements adapters.Requester.
func (r *requester) Request(ctx context.Context, topic string, m *herald.Message) (*herald.Message, error) {
	if r.closed.Load() {
		return nil, closedError(opRequest, topic)
	}
	token := herald.NewID()
	wait, forget, ok := r.table.Add(token)
	defer forget()
	if !ok {
		return nil, closedError(opRequest, topic)
	}
	req := m.Copy()
	req.Metadata.Set(adapters.ReplyToHeader, r.name)
	req.Metadata.Set(adapters.CorrelationHeader, token)
	if err := r.produce(ctx, topic, req); err != nil {
		return nil, err
	}
	res, ok := wait(ctx)
	switch {
	case !ok:
		return nil, closedError(opRequest, topic)
	case res.Err != nil:
		return nil, res.Err
	}
	return res.Msg, nil
}

// produce sends m through the publish side (creating topic on its first
// use) and waits for the broker's ack.
func (r *requester) produce(ctx context.Context, topic string, m *herald.Message) error {
	done := make(chan error, 1)
	if err := r.pub.Send(ctx, topic, m, adapters.SendOptions{}, func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done // the record's context is ctx: franz-go answers by then
}

// Reply implements adapters.Requester: a record on the request's reply
// topic with its correlation header, produced without creating the
// topic (a requester gone deleted it: the reply then waits for ctx, the
// request's deadline, and fails).
func (r *requester) Reply(ctx context.Context, to adapters.ReplyAddress, m *herald.Message) error {
	if r.closed.Load() {
		return closedError(opReply, to.To)
	}
	if !strings.HasPrefix(to.To, ReplyTopicPrefix) || validTopic(to.To) != nil {
		return newError(opReply, to.To, herald.KindInvalid, fmt.Errorf("not a reply topic (want %s<id>)", ReplyTopicPrefix))
	}
	rep := m.Copy()
	rep.Metadata.Set(adapters.CorrelationHeader, to.Correlation)
	rec := &kgo.Record{Context: ctx}
	fillRecord(rec, nil, to.To, rep, time.Time{})
	if err := r.pub.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		if ctx.Err() != nil {
			return newError(opReply, to.To, herald.KindUnreachable, ctxErr(ctx, err))
		}
		return opError(opReply, to.To, err)
	}
	return nil
}

// deleteTopic deletes the reply topic, bounded by requestTimeout.
func (r *requester) deleteTopic() error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp, err := r.adm.DeleteTopics(ctx, r.name)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// Close implements adapters.Requester: waiting requests fail, the
// consumer stops, the reply topic is deleted, the producer closes.
func (r *requester) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.closed.Store(true)
		r.table.Close()
		r.cons.Close()
		<-r.polled
		if err := r.deleteTopic(); err != nil {
			r.err = newError(opClose, r.name, herald.KindOther, fmt.Errorf("delete the reply topic: %w", err))
		}
		if err := r.pub.Close(ctx); err != nil && r.err == nil {
			r.err = err
		}
	})
	return r.err
}

// As implements adapters.Requester: **kgo.Client (the producer) and
// **kadm.Client, as the publish side.
func (r *requester) As(target any) bool { return r.pub.As(target) }

// ReplyTopic is the reply topic of a requester opened by this driver
// ("" for another Requester): for tests and operators.
func ReplyTopic(r adapters.Requester) string {
	if kr, ok := r.(*requester); ok {
		return kr.name
	}
	return ""
}

var _ adapters.Requester = (*requester)(nil)
