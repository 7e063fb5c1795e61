package rabbitmq

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/optnames"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// Defaults for the options (see the package documentation for the
// measurements behind the window and pool).
const (
	defaultPort         = "5672"
	defaultTLSPort      = "5671"
	defaultWindow       = 256 // Capabilities.DefaultWindow: the consume prefetch
	defaultPool         = 2
	defaultHeartbeat    = 10 * time.Second
	defaultDialTimeout  = 10 * time.Second
	defaultReconnectMax = 5 * time.Second
	defaultConnName     = "herald"
)

// settings is a validated Config, ready to dial. It holds the password
// only inside amqpConfig.SASL, never in uri.
type settings struct {
	scheme     string
	host       string   // host:port, or the hosts joined by ',' (for errors and logs)
	hosts      []string // host:port of each broker, in the URL's order
	vhost      string
	uri        string // amqp[s]://host:port/ - no credentials, no vhost
	amqpConfig amqp.Config
	group      string
	// user names the credentials in errors (never the password).
	user string
	// tls are the TLS options (amqps); their files are named in errors.
	tls tlsopt.Settings

	pool         int
	confirm      bool
	queueType    string
	reconnectMax time.Duration
	dialTimeout  time.Duration // connect_timeout: the TCP connect and the handshakes
}

// parse validates cfg and turns it into settings. Every problem is a
// *herald.ConfigError naming the key; the password never appears in it.
// The common options (adapters.SplitCommon: prefetch, the consume window)
// are the facade's: they are checked there and taken out before the
// driver's own are read, so that every other key is either read below or
// refused as unknown. RabbitMQ's old "window" (the publish window) is
// refused by SplitCommon with the names that replace it.
func parse(cfg herald.Config) (*settings, error) {
	cfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return nil, err
	}
	r := cfg.OptionReader()
	s := &settings{
		scheme:       cfg.Scheme,
		group:        cfg.Group,
		pool:         r.Int("pool", defaultPool, 1, 1024),
		confirm:      r.Bool("confirm", true),
		queueType:    r.Enum("queue_type", "auto", "auto", "classic", "quorum"),
		reconnectMax: r.Duration("reconnect_max", defaultReconnectMax, 100*time.Millisecond, 10*time.Minute),
	}
	heartbeat := r.Duration("heartbeat", defaultHeartbeat, time.Second, 10*time.Minute)
	// connect_timeout and client_id mean what they mean on every backend;
	// dial_timeout and connection_name are their older names here.
	dialTimeout := r.Duration(optnames.Key(r, cfg, "connect_timeout"), defaultDialTimeout, 100*time.Millisecond, 10*time.Minute)
	connName := r.String(optnames.Key(r, cfg, "client_id"), defaultConnName)
	s.tls = tlsopt.Read(r, cfg)
	if err := r.Err(); err != nil {
		return nil, err
	}
	s.dialTimeout = dialTimeout

	if s.scheme != "amqp" && s.scheme != "amqps" {
		return nil, &herald.ConfigError{Key: "scheme", Value: s.scheme, Problem: "is not handled by the rabbitmq adapter", Allowed: "amqp, amqps"}
	}
	hosts, err := parseHosts(cfg.Hosts, s.scheme)
	if err != nil {
		return nil, err
	}
	s.hosts, s.host = hosts, strings.Join(hosts, ",")
	host := hosts[0]
	if s.vhost, err = parseVhost(cfg.Path); err != nil {
		return nil, err
	}
	if err := checkName("group", s.group, 200); err != nil {
		return nil, err
	}
	if s.queueType == "auto" {
		// Several hosts are a cluster: a quorum queue is replicated to a
		// majority of its nodes before the confirm and survives the loss
		// of a minority; a classic queue lives on one node. One host
		// keeps classic (see the package documentation for why).
		s.queueType = "classic"
		if len(s.hosts) > 1 {
			s.queueType = "quorum"
		}
	}
	if s.group == "" && s.queueType == "quorum" {
		// Quorum queues cannot be exclusive; a private queue stays classic.
		// Not an error: one URL serves grouped and private subscribers.
		s.queueType = "classic"
	}

	user := cfg.Username
	if user == "" && cfg.Password == "" {
		user = "guest"
		cfg.Password = "guest"
	}
	s.user = user
	s.amqpConfig = amqp.Config{
		SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: user, Password: cfg.Password.Value()}},
		Vhost:      s.vhost,
		Heartbeat:  heartbeat,
		Properties: amqp.NewConnectionProperties(),
		Dial:       amqp.DefaultDial(dialTimeout),
	}
	s.amqpConfig.Properties.SetClientConnectionName(connName)
	// Each node is verified against its own name, unless tls_server_name
	// names one for all (see dial.go).
	s.amqpConfig.TLSClientConfig = s.tls.Config
	// The URI carries neither credentials nor vhost (both travel in
	// amqpConfig), so an error that quotes it leaks nothing.
	s.uri = s.scheme + "://" + host + "/"
	return s, nil
}

// parseHosts checks that there is at least one host and adds the default
// port to those without one. Several hosts are the nodes of one cluster:
// the connection goes to the first that answers, and after a loss to the
// next ones first.
func parseHosts(hosts []string, scheme string) ([]string, error) {
	const allowed = "host[:port][,host[:port]...], e.g. amqp://guest:guest@localhost:5672/ or amqp://u:p@rmq1,rmq2,rmq3/"
	if len(hosts) == 0 {
		return nil, &herald.ConfigError{Key: "hosts", Problem: "is missing", Allowed: allowed}
	}
	port := defaultPort
	if scheme == "amqps" {
		port = defaultTLSPort
	}
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), port)
		}
		if slices.Contains(out, h) {
			return nil, &herald.ConfigError{Key: "hosts", Value: h, Problem: "is named twice", Allowed: allowed}
		}
		out = append(out, h)
	}
	return out, nil
}

// parseVhost applies the AMQP URI rules to the already-decoded URL path:
// "" and "/" mean the default vhost "/"; otherwise the vhost is the path
// without its leading slash, so ".../%2F" (decoded "//") is "/" and
// ".../payments" is "payments".
func parseVhost(path string) (string, error) {
	if path == "" || path == "/" {
		return "/", nil
	}
	v := strings.TrimPrefix(path, "/")
	if len(v) > 255 {
		return "", &herald.ConfigError{Key: "path", Value: path, Problem: "is too long for a vhost", Allowed: "up to 255 bytes"}
	}
	return v, nil
}

// checkName rejects names RabbitMQ refuses in queue or exchange names.
func checkName(key, name string, max int) error {
	if len(name) > max {
		return &herald.ConfigError{Key: key, Value: name, Problem: "is too long", Allowed: "up to " + strconv.Itoa(max) + " bytes"}
	}
	if !utf8.ValidString(name) {
		return &herald.ConfigError{Key: key, Problem: "is not valid UTF-8", Allowed: "a UTF-8 string"}
	}
	return nil
}
