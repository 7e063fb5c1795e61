package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/optnames"
)

// config resolves the configuration as the library does and validates it
// with the adapter's own rules, without connecting.
func (d *doctor) config(url, file string) (string, error) {
	var (
		cfg herald.Config
		err error
	)
	switch {
	case url != "":
		d.rep.Source = "-url"
		cfg, err = herald.Resolve(url)
	case file != "":
		d.rep.Source = "-config " + file
		cfg, err = herald.LoadFile(file)
	default:
		d.rep.Source = envSource()
		cfg, err = herald.Resolve("")
	}
	d.setSecrets(cfg, url)
	d.rep.Target = d.scrub(cfg.String())
	if err != nil {
		d.rep.Target = "(invalid)"
		return "", err
	}
	d.cfg = cfg
	dcfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return "", err
	}
	if _, err := adapters.For(dcfg); err != nil {
		return "", err
	}
	d.addrs = brokerAddrs(cfg)
	detail := fmt.Sprintf("%s: options valid", cfg.Scheme)
	if len(d.addrs) > 0 {
		detail += ", brokers " + strings.Join(d.addrs, ", ")
	}
	if cfg.Group != "" {
		detail += fmt.Sprintf("; group %q is not joined (the probe consumes without a group so as not to disturb it)", cfg.Group)
	}
	// Older option names work until the next release: say which to use.
	for _, a := range optnames.Used(cfg) {
		detail += "; " + a.Describe()
	}
	return detail, nil
}

// setSecrets collects the values to keep out of the report.
func (d *doctor) setSecrets(cfg herald.Config, url string) {
	d.secrets.addConfig(cfg)
	d.secrets.addURL(url)
}

// envSource names where an empty -url takes the configuration from.
func envSource() string {
	switch {
	case os.Getenv(herald.EnvConfig) != "":
		return herald.EnvConfig + "=" + os.Getenv(herald.EnvConfig)
	case os.Getenv(herald.EnvURL) != "":
		return herald.EnvURL
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "HERALD_TEST_") && !strings.HasPrefix(kv, "HERALD_REQUIRE_BROKERS=") {
			return "HERALD_* variables"
		}
	}
	return "the default, " + herald.DefaultTarget + " (no -url, " + herald.EnvURL + " or " + herald.EnvConfig + ")"
}

// defaultPorts are the ports the adapters add to a host without one.
var defaultPorts = map[string]string{"kafka": "9092", "amqp": "5672", "amqps": "5671", "nats": "4222"}

// brokerAddrs returns the host:port of each broker, with the adapters'
// default port and host.
func brokerAddrs(cfg herald.Config) []string {
	port, ok := defaultPorts[cfg.Scheme]
	if !ok {
		return nil
	}
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	addrs := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err == nil {
			addrs = append(addrs, h)
			continue
		}
		addrs = append(addrs, net.JoinHostPort(strings.Trim(h, "[]"), port))
	}
	return addrs
}
