package nats

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
)

// Every backend takes tls_insecure_skip_verify and tls_server_name;
// tls_insecure, this backend's older name, still works.
func TestTLSOptionNames(t *testing.T) {
	for _, c := range []struct {
		query      string
		skip       bool
		serverName string
	}{
		{"tls_insecure_skip_verify=true", true, ""},
		{"tls_insecure=true", true, ""},
		{"tls_server_name=nats.example", false, "nats.example"},
		{"tls=true", false, ""},
	} {
		cfg, err := herald.ParseURL("nats://127.0.0.1:4222?" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		s, err := parse(cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		var o nats.Options
		for _, opt := range s.opts {
			if err := opt(&o); err != nil {
				t.Fatal(err)
			}
		}
		if o.TLSConfig == nil {
			t.Fatalf("%s: TLS not configured", c.query)
		}
		if o.TLSConfig.InsecureSkipVerify != c.skip || o.TLSConfig.ServerName != c.serverName {
			t.Errorf("%s: InsecureSkipVerify %v, ServerName %q; want %v, %q", c.query, o.TLSConfig.InsecureSkipVerify, o.TLSConfig.ServerName, c.skip, c.serverName)
		}
	}
}
