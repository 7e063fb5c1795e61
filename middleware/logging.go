package middleware

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// LoggingOption configures Logging and PublishLogging.
type LoggingOption func(*loggingConfig)

type loggingConfig struct {
	headers []string
}

// LogHeaders adds the values of these metadata headers to every line, as
// "header.<name>" attributes. No header is logged by default: headers may
// hold personal data or secrets, so list only safe ones.
func LogHeaders(names ...string) LoggingOption {
	return func(c *loggingConfig) { c.headers = append(c.headers, names...) }
}

// Logging returns consumer middleware that logs with logger, through the
// context-aware slog methods (so a handler that adds trace IDs from ctx
// sees the span of otelmw.Tracing):
//
//   - Warn, for each retry decided by Retry inside it (attempt, delay, error);
//   - Error, for each message dead-lettered by DeadLetter inside it;
//   - Error, for each delivery that fails and will be redelivered, unless
//     that was already logged as a retry, and for a panic passing through
//     (no Recover inside it), with its stack;
//   - Debug, one line per delivery with its outcome and duration.
//
// Every line has the topic, group, backend, message ID, attempt and, when
// known, the correlation ID. Payloads and headers are never logged (see
// LogHeaders). A nil logger disables logging.
func Logging(logger *slog.Logger, opts ...LoggingOption) herald.Middleware {
	var c loggingConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return func(next herald.Handler) herald.Handler {
		if logger == nil {
			return next
		}
		key := new(byte)
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			ctx, st := withState(ctx)
			base := c.attrs(ctx, msg)
			retried := false // a redelivery retry was logged for this delivery
			outcome := ""
			st.observe(key, ObserverFunc(func(ctx context.Context, e Event) {
				switch e.Kind {
				case EventRetry:
					retried = retried || e.Redelivery
					logLine(ctx, logger, slog.LevelWarn, "herald: handler failed; retrying", base,
						slog.Int("attempt", e.Attempt), slog.Duration("delay", e.Delay),
						slog.Bool("redelivery", e.Redelivery), errAttr(e.Err), stackAttr(e.Err))
				case EventDeadLetter:
					outcome = "dead_lettered"
					logLine(ctx, logger, slog.LevelError, "herald: message dead-lettered", base,
						slog.Int("attempt", e.Attempt), slog.String("dead_letter_topic", e.DeadLetterTopic),
						errAttr(e.Err), stackAttr(e.Err))
				case EventDuplicate:
					outcome = "duplicate"
				}
			}))
			start := time.Now()
			defer onPanic(func(err error) {
				elapsed := time.Since(start)
				attempt, _ := st.snapshot()
				logLine(ctx, logger, slog.LevelError, "herald: handler panicked; message will be redelivered", base,
					slog.Int("attempt", attempt), slog.Duration("duration", elapsed), errAttr(err), stackAttr(err))
				logLine(ctx, logger, slog.LevelDebug, "herald: message handled", base,
					slog.String("outcome", "panicked"), slog.Int("attempt", attempt), slog.Duration("duration", elapsed))
			})
			err := next.Handle(ctx, msg)
			elapsed := time.Since(start)
			attempt, _ := st.snapshot()
			switch {
			case err == nil && outcome == "":
				outcome = "acked"
			case err != nil:
				outcome = "nacked"
				if _, delayed := herald.RetryDelay(err); !(delayed && retried) {
					logLine(ctx, logger, slog.LevelError, "herald: handler failed; message will be redelivered", base,
						slog.Int("attempt", attempt), slog.Duration("duration", elapsed), errAttr(err), stackAttr(err))
				}
			}
			logLine(ctx, logger, slog.LevelDebug, "herald: message handled", base,
				slog.String("outcome", outcome), slog.Int("attempt", attempt), slog.Duration("duration", elapsed))
			return err
		})
	}
}

// PublishLogging returns publish middleware that logs with logger: an Error
// line for each failed Publish call and a Debug line for each successful
// one, with the topic, backend, message IDs, correlation ID and duration.
// Payloads are never logged. A nil logger disables logging.
func PublishLogging(logger *slog.Logger, opts ...LoggingOption) herald.PublishMiddleware {
	var c loggingConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return func(next herald.PublishFunc) herald.PublishFunc {
		if logger == nil {
			return next
		}
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			start := time.Now()
			defer onPanic(func(err error) { c.logPublish(ctx, logger, topic, msgs, start, err) })
			err := next(ctx, topic, msgs...)
			c.logPublish(ctx, logger, topic, msgs, start, err)
			return err
		}
	}
}

// logPublish logs the outcome of one Publish call.
func (c *loggingConfig) logPublish(ctx context.Context, logger *slog.Logger, topic string, msgs []*herald.Message, start time.Time, err error) {
	level := slog.LevelDebug
	text := "herald: published"
	if err != nil {
		level, text = slog.LevelError, "herald: publish failed"
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("topic", topic)}
	if d, ok := herald.DeliveryFromContext(ctx); ok && d.Backend != "" {
		attrs = append(attrs, slog.String("backend", d.Backend))
	}
	switch len(msgs) {
	case 1:
		attrs = append(attrs, slog.String("message_id", msgs[0].UUID))
		attrs = append(attrs, c.headerAttrs(msgs[0])...)
	default:
		ids := make([]string, 0, min(len(msgs), 10))
		for _, m := range msgs[:min(len(msgs), 10)] {
			ids = append(ids, m.UUID)
		}
		attrs = append(attrs, slog.Int("messages", len(msgs)), slog.Any("message_ids", ids))
	}
	if id := CorrelationIDFromContext(ctx); id != "" {
		attrs = append(attrs, slog.String("correlation_id", id))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	if err != nil {
		attrs = append(attrs, errAttr(err))
		if a := stackAttr(err); a.Key != "" {
			attrs = append(attrs, a)
		}
	}
	logger.LogAttrs(ctx, level, text, attrs...)
}

// attrs returns the attributes every line about msg carries.
func (c *loggingConfig) attrs(ctx context.Context, msg *herald.Message) []slog.Attr {
	attrs := make([]slog.Attr, 0, 6+len(c.headers))
	if d, ok := herald.DeliveryFromContext(ctx); ok {
		attrs = append(attrs, slog.String("topic", d.Topic))
		if d.Group != "" {
			attrs = append(attrs, slog.String("group", d.Group))
		}
		if d.Backend != "" {
			attrs = append(attrs, slog.String("backend", d.Backend))
		}
	}
	attrs = append(attrs, slog.String("message_id", msg.UUID))
	if id := CorrelationIDFromContext(ctx); id != "" {
		attrs = append(attrs, slog.String("correlation_id", id))
	}
	return append(attrs, c.headerAttrs(msg)...)
}

func (c *loggingConfig) headerAttrs(msg *herald.Message) []slog.Attr {
	var attrs []slog.Attr
	for _, h := range c.headers {
		if v, ok := msg.Metadata[h]; ok {
			attrs = append(attrs, slog.String("header."+h, v))
		}
	}
	return attrs
}

// logLine logs base plus extra at level, if enabled, leaving out empty
// attributes.
func logLine(ctx context.Context, l *slog.Logger, level slog.Level, msg string, base []slog.Attr, extra ...slog.Attr) {
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(base)+len(extra))
	attrs = append(attrs, base...)
	for _, a := range extra {
		if a.Key != "" {
			attrs = append(attrs, a)
		}
	}
	l.LogAttrs(ctx, level, msg, attrs...)
}

func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}

// stackAttr returns the stack of a recovered panic in err, if any.
func stackAttr(err error) slog.Attr {
	var pe *herald.PanicError
	if errors.As(err, &pe) && len(pe.Stack) > 0 {
		return slog.String("stack", string(pe.Stack))
	}
	return slog.Attr{}
}
