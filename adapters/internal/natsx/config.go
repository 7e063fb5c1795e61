package natsx

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/optnames"
)

// Settings tune the streams and consumers Herald creates. The zero value
// is not useful; start from DefaultSettings or ReadSettings.
//
// Nothing here is a policy of the facade: the publish timeout (Send's
// context), the publish window (the publisher's async window), the
// consume window (StreamOptions.Window), the redelivery delay (Nack's
// delay) and Close's bound (its context) are given by the caller.
type Settings struct {
	// Stream, when set, is the one stream every topic goes to; topics are
	// added to its subjects as they are first used. Empty: the stream that
	// already captures a topic's subject, else a stream per topic.
	Stream string
	// Subjects are the subjects of Stream when Herald creates it (default:
	// the topics, added as used).
	Subjects []string
	// Provision lets Herald create streams and add subjects; false expects
	// them to exist.
	Provision bool
	// Storage, Replicas, MaxAge and Duplicates configure created streams.
	// Replicas 0 (ReplicasAuto) decides when the stream is created: see
	// autoReplicas.
	Storage    jetstream.StorageType
	Replicas   int
	MaxAge     time.Duration
	Duplicates time.Duration
	// AckWait is how long the server waits for an ack (or a progress
	// signal) before redelivering.
	AckWait time.Duration
	// MaxDeliver bounds deliveries per message (-1: unlimited).
	MaxDeliver int
	// BackOff are the consumer's ack waits for successive deliveries of a
	// message that is neither acked nor kept alive (its subscriber died);
	// a nack's delay is Nack's.
	BackOff []time.Duration
	// DeliverNew makes a new group start with messages published after its
	// creation; the default is every message the stream retains.
	DeliverNew bool
	// MaxAckPending bounds the unacked messages of a consumer, all its
	// subscribers together (0: the server's default); it is raised to a
	// stream's window when lower.
	MaxAckPending int
	// InactiveThreshold removes a private (group-less) consumer after it
	// has been inactive this long (it is also deleted on Close).
	InactiveThreshold time.Duration
}

// Defaults, documented in package adapters/nats.
const (
	DefaultAckWait           = 30 * time.Second
	DefaultMaxAge            = 7 * 24 * time.Hour
	DefaultDuplicates        = 2 * time.Minute
	DefaultInactiveThreshold = 5 * time.Minute
	// DefaultWindow is the stream window JetStream is tuned for
	// (Capabilities.DefaultWindow): with 1024 unacknowledged messages
	// the consumer keeps up with an asynchronous publisher, where 256
	// left a backlog of seconds (docs/performance.md, "The NATS consume
	// window"). Messages held past half the ack wait get a progress
	// signal, so a slow handler does not have them redelivered.
	DefaultWindow = 1024
	// CoreWindow is core NATS's default window (mode=core): a local
	// buffer, not tuned by that measurement.
	CoreWindow = 256
	// ReplicasAuto: replicas=auto, the default (see autoReplicas).
	ReplicasAuto = 0
)

// DefaultSettings returns the defaults.
func DefaultSettings() Settings {
	return Settings{
		Provision:         true,
		Storage:           jetstream.FileStorage,
		Replicas:          ReplicasAuto,
		MaxAge:            DefaultMaxAge,
		Duplicates:        DefaultDuplicates,
		AckWait:           DefaultAckWait,
		MaxDeliver:        -1,
		InactiveThreshold: DefaultInactiveThreshold,
	}
}

// SettingKeys are the option keys ReadSettings reads (JetStream only).
var SettingKeys = []string{
	"stream", "subjects", "provision", "storage", "replicas", "max_age", "duplicates",
	"ack_wait", "max_deliver", "backoff", "start", "max_ack_pending", "inactive_threshold",
}

// Removed are the options earlier versions read whose policy is now the
// publisher's or the subscriber's, each with what replaces it. Validate
// refuses them (RefuseRemoved) rather than accept and ignore them.
var Removed = map[string]string{
	"nak_delay":       "the redelivery delay after a nack is the subscriber's (its retry policy), passed to each nack",
	"publish_timeout": "the publisher's publish timeout bounds every publish",
	"max_pending":     "the publisher's async window bounds the publishes awaiting their acknowledgement",
	"close_timeout":   "Close's context bounds how long closing waits",
}

// RefuseRemoved records in r a ConfigError for every option of Removed
// that opts sets (the others are not looked up, so that the list of
// allowed keys in r's errors does not name them).
func RefuseRemoved(r *herald.OptionReader, opts herald.Options) {
	for _, k := range []string{"nak_delay", "publish_timeout", "max_pending", "close_timeout"} {
		if v, ok := opts[k]; ok {
			r.Fail(k, v, "is not an option any more", Removed[k])
		}
	}
}

// ReadSettings reads the JetStream options of cfg from r (cfg's
// reader), starting from the defaults. Problems are recorded in r (see
// herald.OptionReader.Err).
func ReadSettings(r *herald.OptionReader, cfg herald.Config) Settings {
	s := DefaultSettings()
	const day = 24 * time.Hour
	s.Stream = r.String("stream", "")
	if s.Stream != "" && !ValidName(s.Stream) {
		r.Fail("stream", s.Stream, "is not a valid stream name", "letters, digits, '-' and '_', at most 200 characters")
	}
	if subj := r.String("subjects", ""); subj != "" {
		if s.Stream == "" {
			r.Fail("subjects", subj, "needs the stream option", "set stream=NAME together with subjects")
		}
		for _, x := range strings.Split(subj, ",") {
			x = strings.TrimSpace(x)
			if x == "" || strings.ContainsAny(x, " \t\r\n") || strings.Contains(x, "..") || strings.HasPrefix(x, ".") || strings.HasSuffix(x, ".") {
				r.Fail("subjects", subj, "holds an invalid subject", "comma-separated NATS subjects, wildcards * and > allowed, e.g. orders.>,billing.*")
				break
			}
			s.Subjects = append(s.Subjects, x)
		}
	}
	s.Provision = r.Bool("provision", true)
	if r.Enum("storage", "file", "file", "memory") == "memory" {
		s.Storage = jetstream.MemoryStorage
	}
	if raw := r.String("replicas", "auto"); raw != "auto" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 5 {
			r.Fail("replicas", raw, "is not a valid replica count", "auto (3 on a cluster of 3 or more servers, else 1) or an integer from 1 to 5")
		}
		s.Replicas = n
	}
	s.MaxAge = r.Duration("max_age", DefaultMaxAge, 0, 100*365*day)
	s.Duplicates = r.Duration("duplicates", DefaultDuplicates, time.Second, 7*day)
	s.AckWait = r.Duration("ack_wait", DefaultAckWait, time.Second, 12*time.Hour)
	s.MaxDeliver = r.Int("max_deliver", -1, -1, 1_000_000)
	if s.MaxDeliver == 0 {
		r.Fail("max_deliver", "0", "is out of range", "-1 (unlimited) or an integer from 1 to 1000000")
	}
	if bo := r.String("backoff", ""); bo != "" {
		for _, x := range strings.Split(bo, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(x))
			if err != nil || d < time.Second || d > 12*time.Hour {
				r.Fail("backoff", bo, "is not a list of durations from 1s to 12h", "comma-separated durations, e.g. 1s,5s,30s")
				s.BackOff = nil
				break
			}
			s.BackOff = append(s.BackOff, d)
		}
		if s.MaxDeliver != -1 && s.MaxDeliver <= len(s.BackOff) {
			r.Fail("backoff", bo, "has as many delays as max_deliver or more", "fewer delays than max_deliver, or max_deliver=-1")
		}
	}
	// start means what it means on every backend; deliver=all|new is its
	// older name here.
	s.DeliverNew = optnames.Enum(r, cfg, "start", "oldest", "oldest", "newest") == "newest"
	s.MaxAckPending = r.Int("max_ack_pending", 0, 0, 10_000_000)
	s.InactiveThreshold = r.Duration("inactive_threshold", DefaultInactiveThreshold, time.Second, 30*day)
	RefuseRemoved(r, cfg.Options)
	return s
}
