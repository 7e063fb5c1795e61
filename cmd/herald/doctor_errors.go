package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// Problem codes of doctor's report (the "problem" JSON field). They are
// stable.
const (
	problemConfig      = "config"      // the configuration is invalid
	problemDNS         = "dns"         // a host name does not resolve
	problemUnreachable = "unreachable" // nothing answers at the address
	problemTLS         = "tls"         // TLS on one side only, or an untrusted certificate
	problemAuth        = "auth"        // the broker refused the credentials
	problemPermission  = "permission"  // authenticated, but not allowed to publish or consume
	problemDirInUse    = "dir_in_use"  // another process holds the embedded data directory
	problemTimeout     = "timeout"     // the broker did not answer in time
	problemProbeLost   = "probe_lost"  // published, but the probe never came back
	problemOther       = "error"       // anything else: see the step's detail
)

// problem is a classified failure.
type problem struct {
	code, verdict, fix string
}

// textHints are broker and adapter messages that carry no error type to
// test with errors.Is or errors.As; each is matched case-insensitively
// in the error text. Keep this table small: prefer sentinels and types.
var textHints = []struct {
	text, code string
}{
	{"permissions violation", problemPermission}, // NATS server -ERR for a denied subject
	{"authorization violation", problemAuth},     // NATS server -ERR when credentials are refused
}

// classify names the problem behind a failed step and its fix.
func classify(step string, err error, cfg herald.Config) problem {
	code := codeOf(step, err)
	return problem{code: code, verdict: verdictOf(code, step), fix: fixOf(code, step, err, cfg)}
}

// codeOf maps err to a problem code: sentinels and client error types
// first, then the few texts of textHints, then the step it happened in.
func codeOf(step string, err error) string {
	var (
		cfgErr  *herald.ConfigError
		dnsErr  *net.DNSError
		amqpErr *amqp.Error
		kErr    *kerr.Error
		tlsErr  *tlsopt.Error
	)
	switch {
	case errors.As(err, &cfgErr), errors.Is(err, herald.ErrInvalidConfig), errors.Is(err, herald.ErrUnknownScheme):
		return problemConfig
	case errors.Is(err, embedded.ErrDirInUse):
		return problemDirInUse
	case errors.As(err, &dnsErr):
		return problemDNS
	case errors.As(err, &tlsErr), tlsopt.Diagnose(err, tlsopt.Settings{}) != nil, errors.Is(err, errNoTLS),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted):
		// The drivers return the diagnosis of internal/tlsopt; the tls
		// step's own handshake errors are diagnosed the same way.
		return problemTLS
	case errors.Is(err, amqp.ErrCredentials), errors.Is(err, amqp.ErrSASL),
		errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return problemAuth
	case errors.Is(err, amqp.ErrVhost), errors.Is(err, nats.ErrPermissionViolation),
		errors.As(err, &amqpErr) && (amqpErr.Code == amqp.AccessRefused || amqpErr.Code == amqp.NotAllowed),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed):
		if step == "auth" && !errors.Is(err, amqp.ErrVhost) {
			return problemAuth
		}
		return problemPermission
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return problemPermission
	case errors.Is(err, errProbeLost):
		return problemProbeLost
	}
	lower := strings.ToLower(err.Error())
	for _, h := range textHints {
		if strings.Contains(lower, h.text) {
			return h.code
		}
	}
	switch {
	case step == "tls":
		// The server closed or stalled the handshake: a plaintext port
		// waiting for its own protocol, or one that wants a client
		// certificate.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || isTimeout(err) {
			return problemTLS
		}
	case step == "tcp", step == "auth" && (errors.Is(err, herald.ErrUnreachable) || errors.Is(err, syscall.ECONNREFUSED)):
		return problemUnreachable
	case errors.Is(err, herald.ErrUnreachable):
		// Connected and logged in, and then no answer: not a stopped
		// broker.
		return problemTimeout
	case errors.As(err, &kErr):
		return problemOther
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return problemTimeout
	}
	return problemOther
}

// isTimeout reports a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// verdictOf is the one-sentence verdict for a problem.
func verdictOf(code, step string) string {
	switch code {
	case problemConfig:
		return "the configuration is invalid"
	case problemDNS:
		return "a broker's host name does not resolve"
	case problemUnreachable:
		return "the broker is unreachable: nothing answers at its address"
	case problemTLS:
		return "TLS does not work between this client and the broker"
	case problemAuth:
		return "the broker refused the credentials"
	case problemPermission:
		return "authenticated, but not allowed to " + action(step)
	case problemDirInUse:
		return "another process holds the embedded broker's data directory"
	case problemTimeout:
		return "the broker did not answer in time (step " + step + ")"
	case problemProbeLost:
		return "the probe message was published but never came back"
	}
	return "step " + step + " failed"
}

// fixOf is the concrete fix for a problem.
func fixOf(code, step string, err error, cfg herald.Config) string {
	switch code {
	case problemConfig:
		return "correct the key the error names (its allowed values are in the error); the options of each backend are in its package doc (go doc github.com/heraldkit/herald/adapters/" + adapterPkg(cfg.Scheme) + ")"
	case problemDNS:
		return "check the host name's spelling, or use the broker's IP address; inside containers use the service name"
	case problemUnreachable:
		return "start the broker, or correct the host and port (nothing accepts connections there; a firewall may also drop them)"
	case problemTLS:
		return tlsFix(step, err, cfg)
	case problemAuth:
		if cfg.Username == "" {
			return "the broker requires credentials: add user:password@ to the URL (or the backend's token/creds options)"
		}
		return fmt.Sprintf("check the password of user %q (in the URL, HERALD_PASSWORD or the config file); the user must exist on the broker", cfg.Username)
	case problemPermission:
		return fmt.Sprintf("grant user %q the right to %s (RabbitMQ: the vhost's configure/write/read permissions; Kafka: topic ACLs; NATS: the user's publish/subscribe permissions and JetStream access)", cfg.Username, action(step))
	case problemDirInUse:
		return "stop the process named in the error, or share it: run \"herald serve\" once and set HERALD_URL=nats://127.0.0.1:4333 in every process"
	case problemTimeout:
		if step == "auth" {
			return "the broker may be overloaded or a firewall drops packets; retry with a larger -timeout"
		}
		return "the connection and login worked but the broker did not answer: check that the user may " + action(step) + " (some brokers drop what a user may not do without a clear error), that the broker is not overloaded, or retry with a larger -timeout"
	case problemProbeLost:
		return "the subscription did not receive what the broker acknowledged: check for another consumer or a filter on the probe topic, then retry"
	}
	return "see the error above"
}

// action says what a step needed permission for.
func action(step string) string {
	switch step {
	case "publish":
		return "publish to the probe topic"
	case "consume":
		return "consume from the probe topic"
	case "roundtrip":
		return "publish to and consume from the probe topic"
	}
	return "use this vhost or account"
}

// tlsFix is the fix of a TLS problem: the hint of internal/tlsopt's
// diagnosis, the one the drivers give.
func tlsFix(step string, err error, cfg herald.Config) string {
	ts, _ := tlsopt.Parse(cfg)
	d := tlsopt.Diagnose(err, ts)
	switch {
	case d != nil:
	case errors.Is(err, errNoTLS), errors.Is(err, nats.ErrSecureConnWanted):
		d = tlsopt.PlaintextServerError(cfg.Scheme, err)
	case step == "tls":
		// The server closed or stalled the handshake: a plaintext port
		// waiting for its own protocol, or one that wants a client
		// certificate.
		d = tlsopt.ClosedHandshakeError(ts, err)
	default:
		d = tlsopt.TLSServerError(cfg.Scheme, err)
	}
	return d.Cause + ": " + d.Hint
}

// adapterPkg is the adapter package of a scheme.
func adapterPkg(scheme string) string {
	switch scheme {
	case "amqp", "amqps":
		return "rabbitmq"
	case "mem":
		return "memory"
	case "":
		return "all"
	}
	return scheme
}
