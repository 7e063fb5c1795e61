package herald_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/adapters/embedded"
)

// optionClass lists every option key Herald's adapters read, each marked
// secret or not. TestEveryOptionKeyClassified fails when an adapter reads a
// key that is not here: decide whether its value is secret (then
// herald.IsSecretKey must report it, by its name or RegisterSecretOption)
// and add it.
var optionClass = map[string]bool{
	// secret
	"token": true, "nkey": true, "creds": true,
	// not secret (tls_key, tls_cert, tls_ca hold file paths)
	"ack_wait": false, "acks": false, "backoff": false, "buffer": false, "client_id": false,
	"close_timeout": false, "compression": false, "confirm": false, "connect_timeout": false,
	"connection_name": false, "deliver": false, "dial_timeout": false, "dir": false,
	"duplicates": false, "group": false, "heartbeat": false, "idempotent": false,
	"inactive_threshold": false, "initial_offset": false, "log": false, "max_ack_pending": false,
	"max_age": false, "max_deliver": false, "max_message_bytes": false, "max_pending": false,
	"max_reconnects": false, "mode": false, "nak_delay": false, "name": false, "partitions": false,
	"pool": false, "prefetch": false, "provision": false, "publish_timeout": false,
	"queue_type": false, "reconnect_max": false, "reconnect_wait": false, "replicas": false,
	"replication_factor": false, "min_insync_replicas": false, "sasl": false, "session_timeout": false, "storage": false,
	"start": false, "stream": false, "subjects": false, "sync": false, "tls": false, "tls_ca": false,
	"tls_cert": false, "tls_insecure": false, "tls_insecure_skip_verify": false, "tls_key": false,
	"tls_server_name": false, "tls_skip_verify": false, "version": false, "window": false,
}

var allowedList = regexp.MustCompile(`key "zz_probe": is not a known option for scheme "[a-z]+"[^(]*\(allowed: ([^)]*)\)`)

// TestEveryOptionKeyClassified asks every registered adapter for the
// option keys it accepts (the unknown-key error lists them) and checks
// that each is classified, and that herald.IsSecretKey agrees.
func TestEveryOptionKeyClassified(t *testing.T) {
	targets := map[string]string{
		"kafka":    "kafka://h:9092",
		"amqp":     "amqp://h:5672",
		"amqps":    "amqps://h:5671",
		"nats":     "nats://h:4222",
		"mem":      "mem://",
		"embedded": "embedded://" + t.TempDir(),
	}
	for _, scheme := range adapters.Schemes() {
		target, ok := targets[scheme]
		if !ok {
			t.Errorf("no probe target for scheme %q; add one", scheme)
			continue
		}
		cfg, err := herald.ParseURL(target + "?zz_probe=1")
		if err != nil {
			t.Fatal(err)
		}
		a, err := adapters.Lookup(scheme)
		if err != nil {
			t.Fatal(err)
		}
		err = a.Validate(cfg)
		m := allowedList.FindStringSubmatch(errString(err))
		if m == nil {
			t.Errorf("%s: Validate(%s) = %v; want an unknown-key error listing the allowed keys", scheme, cfg, err)
			continue
		}
		keys := strings.Split(m[1], ", ")
		sort.Strings(keys)
		for _, k := range keys {
			secret, known := optionClass[k]
			switch {
			case !known:
				t.Errorf("%s: option %q is not classified: is its value secret? Add it to optionClass (and make herald.IsSecretKey agree)", scheme, k)
			case herald.IsSecretKey(k) != secret:
				t.Errorf("%s: herald.IsSecretKey(%q) = %v; want %v", scheme, k, !secret, secret)
			}
		}
		t.Logf("%s: %d option keys", scheme, len(keys))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestEmbeddedDefaultDirInStep: the directory named by Resolve's
// fallback warning is the one the embedded adapter writes to.
func TestEmbeddedDefaultDirInStep(t *testing.T) {
	for _, xdg := range []string{"", "/srv/data", "relative/ignored"} {
		t.Setenv("XDG_DATA_HOME", xdg)
		want, werr := embedded.DefaultDir()
		got, gerr := herald.EmbeddedDefaultDir()
		if got != want || (werr == nil) != (gerr == nil) {
			t.Errorf("XDG_DATA_HOME=%q: herald warns about %q (%v); embedded writes to %q (%v)", xdg, got, gerr, want, werr)
		}
	}
}
