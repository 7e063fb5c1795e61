package nats

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest/certs"
)

// fingerprint is what a configuration changes: the connection options
// nats.go is given, the servers, the mode and the JetStream settings.
func fingerprint(t *testing.T, s *settings) string {
	t.Helper()
	var o nats.Options
	for _, opt := range s.opts {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	tlsc := "none"
	if c := o.TLSConfig; c != nil {
		tlsc = fmt.Sprintf("skip=%v name=%q roots=%v certs=%d", c.InsecureSkipVerify, c.ServerName, c.RootCAs != nil, len(c.Certificates))
	}
	return fmt.Sprintf("servers=%v core=%v js=%+v name=%q timeout=%v wait=%v max=%d user=%q token=%v nkey=%v creds=%v tls=%s",
		s.servers, s.core, s.js, o.Name, o.Timeout, o.ReconnectWait, o.MaxReconnect, o.User, o.Token != "", o.Nkey != "", o.UserJWT != nil, tlsc)
}

var allowedList = regexp.MustCompile(`\(allowed: ([^)]*)\)`)

// acceptedKeys are the option keys Validate accepts for u, from the
// unknown-key error's list.
func acceptedKeys(t *testing.T, u string) []string {
	cfg, err := herald.ParseURL(u + "zz_probe=1")
	if err != nil {
		t.Fatal(err)
	}
	err = Driver{}.Validate(cfg)
	m := allowedList.FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("Validate(%s) = %v, want an unknown-key error listing the keys", cfg, err)
	}
	var keys []string
	for _, k := range strings.Split(m[1], ", ") {
		if k != "group" { // cfg.Group, not an option
			keys = append(keys, k)
		}
	}
	return keys
}

// TestEveryOptionIsRead: every option key the driver accepts changes what
// it does (issue 14 item 4: nak_delay was accepted and did nothing). For
// each key a value other than the default is set and the resulting
// connection options, mode and JetStream settings must differ from the
// defaults'. A key added without a row here fails the test.
func TestEveryOptionIsRead(t *testing.T) {
	dir := t.TempDir()
	cs, err := certs.New(filepath.Join(dir, "certs"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	nkeyFile := filepath.Join(dir, "u.nk")
	if err := os.WriteFile(nkeyFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(dir, "u.creds")
	if err := os.WriteFile(credsFile, []byte("creds"), 0o600); err != nil {
		t.Fatal(err)
	}
	// key: the query setting it (with what it needs), and the base query
	// it is compared with.
	rows := map[string][2]string{
		"mode":                     {"mode=core", ""},
		"client_id":                {"client_id=svc", ""},
		"connect_timeout":          {"connect_timeout=1s", ""},
		"reconnect_wait":           {"reconnect_wait=1s", ""},
		"max_reconnects":           {"max_reconnects=3", ""},
		"token":                    {"token=t0k", ""},
		"nkey":                     {"nkey=" + nkeyFile, ""},
		"creds":                    {"creds=" + credsFile, ""},
		"tls":                      {"tls=true", ""},
		"tls_ca":                   {"tls_ca=" + cs.CA, "tls=true"},
		"tls_cert":                 {"tls_cert=" + cs.ClientCert + "&tls_key=" + cs.ClientKey, "tls=true"},
		"tls_key":                  {"tls_cert=" + cs.ClientCert + "&tls_key=" + cs.ClientKey, "tls=true"},
		"tls_insecure_skip_verify": {"tls_insecure_skip_verify=true", "tls=true"},
		"tls_server_name":          {"tls_server_name=n.example", "tls=true"},
		"stream":                   {"stream=S", ""},
		"subjects":                 {"stream=S&subjects=a.>", "stream=S"},
		"provision":                {"provision=false", ""},
		"storage":                  {"storage=memory", ""},
		"replicas":                 {"replicas=3", ""},
		"max_age":                  {"max_age=1h", ""},
		"duplicates":               {"duplicates=1m", ""},
		"ack_wait":                 {"ack_wait=10s", ""},
		"max_deliver":              {"max_deliver=5", ""},
		"backoff":                  {"backoff=1s,5s", ""},
		"start":                    {"start=newest", ""},
		"max_ack_pending":          {"max_ack_pending=10", ""},
		"inactive_threshold":       {"inactive_threshold=1m", ""},
	}
	// prefetch is the facade's (TestPrefetchIsTheSubscribers).
	keys := slices.DeleteFunc(acceptedKeys(t, "nats://h:4222?"), func(k string) bool { return k == "prefetch" })
	sort.Strings(keys)
	var want []string
	for k := range rows {
		want = append(want, k)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("accepted keys %v, the table has %v: add a row for each accepted key", keys, want)
	}
	for _, k := range keys {
		row, ok := rows[k]
		if !ok {
			continue
		}
		t.Run(k, func(t *testing.T) {
			parseQ := func(q string) *settings {
				cfg, err := herald.ParseURL("nats://h:4222?" + q)
				if err != nil {
					t.Fatal(err)
				}
				s, err := parse(cfg)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return s
			}
			with := row[0]
			if row[1] != "" && !strings.Contains(with, row[1]) {
				with = row[1] + "&" + with
			}
			if fingerprint(t, parseQ(with)) == fingerprint(t, parseQ(row[1])) {
				t.Errorf("%s changes nothing compared with %q", with, row[1])
			}
		})
	}
}

// The consume window (prefetch) is read by the subscriber, which takes
// it out with adapters.SplitCommon; the driver accepts it and checks it.
func TestPrefetchIsTheSubscribers(t *testing.T) {
	cfg, err := herald.ParseURL("nats://h:4222?prefetch=32")
	if err != nil {
		t.Fatal(err)
	}
	if err := (Driver{}).Validate(cfg); err != nil {
		t.Fatal(err)
	}
	_, c, err := adapters.SplitCommon(cfg)
	if err != nil || c.Prefetch != 32 {
		t.Errorf("SplitCommon: %+v, %v; want prefetch 32", c, err)
	}
	for _, q := range []string{"prefetch=0", "window=8"} {
		cfg, _ := herald.ParseURL("nats://h:4222?" + q)
		if err := (Driver{}).Validate(cfg); err == nil {
			t.Errorf("%s accepted", q)
		}
	}
}

// In core mode the JetStream options are refused, not ignored.
func TestCoreRefusesJetStreamOptions(t *testing.T) {
	for _, k := range []string{"stream", "ack_wait", "backoff", "start", "deliver", "max_ack_pending", "provision"} {
		cfg, _ := herald.ParseURL("nats://h:4222?mode=core&" + k + "=1")
		if err := (Driver{}).Validate(cfg); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("key %q", k)) {
			t.Errorf("mode=core&%s=1: %v, want an error naming %q", k, err, k)
		}
	}
}
