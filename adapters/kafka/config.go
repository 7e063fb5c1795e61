package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/optnames"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// Defaults of the options documented in the package documentation.
const (
	defaultPort            = "9092"
	defaultPartitions      = 6
	defaultWindow          = 256     // Capabilities.DefaultWindow
	defaultMaxMessageBytes = 2 << 20 // 2 MiB: a 1 MiB payload plus headers fits
	defaultSessionTimeout  = 10 * time.Second
	defaultConnectTimeout  = 10 * time.Second
	defaultClientID        = "herald"
	defaultVersion         = "3.6.0"
	minVersion             = "2.4.0"
	maxVersion             = "4.4.0"
)

// Where a consumer starts without a committed offset (settings.initialOffset).
const (
	offsetNewest int64 = -1
	offsetOldest int64 = -2
)

// SASL mechanisms (settings.sasl).
const (
	saslPlain       = "PLAIN"
	saslSCRAMSHA256 = "SCRAM-SHA-256"
	saslSCRAMSHA512 = "SCRAM-SHA-512"
)

// settings is a validated Config, ready to build franz-go options from.
type settings struct {
	brokers           []string
	group             string
	acks              string // all, leader, none
	idempotent        bool
	compression       kgo.CompressionCodec
	partitions        int32
	replicationFactor int16 // replicationAuto, replicationBroker (-1) or a count
	minInsyncReplicas int   // replicationAuto, replicationBroker (-1) or a count
	maxMessageBytes   int
	initialOffset     int64 // offsetOldest or offsetNewest
	sessionTimeout    time.Duration
	clientID          string
	version           string          // highest Kafka version whose protocol is spoken
	tls               *tls.Config     // nil: plaintext
	tlsOpts           tlsopt.Settings // the TLS options, for the diagnosis of a failed handshake
	connectTimeout    time.Duration   // bounds each dial and TLS handshake
	sasl              string          // "" or saslPlain, saslSCRAMSHA256, saslSCRAMSHA512
	username          string
	password          string
	revokeWait        time.Duration // revokeWait; shorter in tests
	extra             []kgo.Opt     // added to every client (tests)
	dial              dialFunc      // replaces net.Dialer under the guard (tests); nil: TCP
}

// parse validates cfg and returns its settings. Every problem is reported,
// as *herald.ConfigError values joined together; none contains the password.
// Every option it reads is used; the consume window (prefetch, and its
// older name window) is the facade's (adapters.SplitCommon) and is
// refused here like any other unknown option.
func parse(cfg herald.Config) (settings, error) {
	var errs []error
	fail := func(key, value, problem, allowed string) {
		errs = append(errs, &herald.ConfigError{Key: key, Value: value, Problem: problem, Allowed: allowed})
	}
	s := settings{group: cfg.Group, username: cfg.Username, password: cfg.Password.Value(), revokeWait: revokeWait}

	if len(cfg.Hosts) == 0 {
		fail("hosts", "", "is missing", "one or more host:port broker addresses, e.g. kafka://127.0.0.1:9092,10.0.0.2:9092")
	}
	for _, h := range cfg.Hosts {
		addr, err := brokerAddr(h)
		if err != nil {
			fail("hosts", h, "is not a valid broker address", "host:port or host (port 9092)")
			continue
		}
		s.brokers = append(s.brokers, addr)
	}
	if cfg.Path != "" && cfg.Path != "/" {
		fail("path", cfg.Path, "is not used by kafka", "no path: kafka://host:9092?option=value")
	}

	r := cfg.OptionReader()
	acks := r.Enum("acks", "all", "all", "leader", "none")
	s.acks = acks
	idempotentSet := r.Has("idempotent")
	s.idempotent = r.Bool("idempotent", acks == "all")
	if idempotentSet && s.idempotent && acks != "all" {
		r.Fail("idempotent", "true", "requires acks=all", "false, or set acks=all")
	}
	codec := r.Enum("compression", "none", "none", "gzip", "snappy", "lz4", "zstd")
	s.compression = map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}[codec]
	s.partitions = int32(r.Int("partitions", defaultPartitions, 1, 10000))
	replicasKey := optnames.Key(r, cfg, "replicas") // replication_factor: the older name
	s.replicationFactor = int16(replicationOption(r, replicasKey, "default.replication.factor"))
	s.minInsyncReplicas = replicationOption(r, "min_insync_replicas", "min.insync.replicas")
	if s.minInsyncReplicas > 0 && s.replicationFactor > 0 && s.minInsyncReplicas > int(s.replicationFactor) {
		r.Fail("min_insync_replicas", strconv.Itoa(s.minInsyncReplicas), "is more than "+replicasKey+" "+strconv.Itoa(int(s.replicationFactor))+" (no write could succeed)",
			"at most "+replicasKey+", typically "+replicasKey+"-1")
	}
	s.maxMessageBytes = r.Int("max_message_bytes", defaultMaxMessageBytes, 1024, 1<<30)
	offsetDefault := "newest"
	if cfg.Group != "" {
		offsetDefault = "oldest"
	}
	// start (initial_offset: the older name) is where a consumer without a
	// committed offset starts.
	if optnames.Enum(r, cfg, "start", offsetDefault, "oldest", "newest") == "oldest" {
		s.initialOffset = offsetOldest
	} else {
		s.initialOffset = offsetNewest
	}
	s.sessionTimeout = r.Duration("session_timeout", defaultSessionTimeout, 6*time.Second, 5*time.Minute)
	s.connectTimeout = r.Duration("connect_timeout", defaultConnectTimeout, 100*time.Millisecond, 10*time.Minute)
	s.clientID = r.String("client_id", defaultClientID)
	if !validClientID(s.clientID) {
		r.Fail("client_id", s.clientID, "is not a valid client id", "1 to 255 characters: letters, digits, '.', '_', '-'")
	}
	s.version = parseVersion(r)
	s.tlsOpts = tlsopt.Read(r, cfg)
	s.tls = s.tlsOpts.Config
	s.sasl = parseSASL(r, cfg, fail)

	if err := r.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return settings{}, errors.Join(errs...)
	}
	return s, nil
}

// brokerAddr checks a host and adds the default port when it has none.
func brokerAddr(h string) (string, error) {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h, nil
	}
	addr := net.JoinHostPort(strings.Trim(h, "[]"), defaultPort)
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.Trim(h, "[]") == "" {
		return "", fmt.Errorf("bad address %q", h)
	}
	return addr, nil
}

func validClientID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for _, c := range id {
		if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func parseVersion(r *herald.OptionReader) string {
	allowed := fmt.Sprintf("a Kafka version from %s to %s, e.g. 3.6.0", minVersion, maxVersion)
	raw := r.String("version", defaultVersion)
	v, ok := versionNumber(raw)
	if !ok || kversion.FromString(raw) == nil {
		r.Fail("version", raw, "is not a Kafka version", allowed)
		return defaultVersion
	}
	lo, _ := versionNumber(minVersion)
	hi, _ := versionNumber(maxVersion)
	if v < lo || v > hi {
		r.Fail("version", raw, "is out of range", allowed)
		return defaultVersion
	}
	return raw
}

// versionNumber turns "a.b.c" (or "a.b.c.d", or "a.b") into a comparable number.
func versionNumber(raw string) (int, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		d := 0
		if i < len(parts) {
			var err error
			if d, err = strconv.Atoi(parts[i]); err != nil || d < 0 || d > 999 {
				return 0, false
			}
		}
		n = n*1000 + d
	}
	return n, true
}

// kafkaVersions is the protocol range for settings.version.
func (s settings) kafkaVersions() *kversion.Versions {
	return kversion.FromString(s.version)
}

func parseSASL(r *herald.OptionReader, cfg herald.Config, fail func(key, value, problem, allowed string)) string {
	const allowed = "plain, scram-sha-256, scram-sha-512"
	mech := r.Enum("sasl", "", "plain", "scram-sha-256", "scram-sha-512")
	if mech == "" {
		if r.Has("sasl") {
			return "" // reported by Enum
		}
		if cfg.Username != "" || cfg.Password != "" {
			fail("sasl", "", "is missing but the URL has credentials", allowed+" (credentials are only sent with SASL)")
		}
		return ""
	}
	if cfg.Username == "" {
		fail("username", "", "is missing", "a user name in the URL, e.g. kafka://user:password@host:9092?sasl="+mech)
	}
	if cfg.Password == "" {
		fail("password", "", "is missing", "a password in the URL, e.g. kafka://user:password@host:9092?sasl="+mech)
	}
	return map[string]string{
		"plain":         saslPlain,
		"scram-sha-256": saslSCRAMSHA256,
		"scram-sha-512": saslSCRAMSHA512,
	}[mech]
}
