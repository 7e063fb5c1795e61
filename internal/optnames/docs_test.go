package optnames_test

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/internal/optnames"
)

// columns of the options table in docs/configuration.md, after the option
// and its meaning: the probe URL of each.
var columns = []struct{ title, url string }{
	{"`kafka`", "kafka://h:9092"},
	{"`amqp`, `amqps`", "amqps://h:5671"},
	{"`nats`", "nats://h:4222"},
	{"`embedded`", "embedded://"},
	{"`mem`", "mem://"},
}

// accepted returns the options the driver of url accepts, as its
// unknown-option error lists them, prefetch (read by the facade) included.
func accepted(t *testing.T, url string) []string {
	t.Helper()
	if strings.HasPrefix(url, "embedded") {
		url += t.TempDir()
	}
	cfg, err := herald.ParseURL(url + "?zz_probe=1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := adapters.Lookup(cfg.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`key "zz_probe": [^(]*\(allowed: ([^)]*)\)`).FindStringSubmatch(d.Validate(cfg).Error())
	if m == nil {
		t.Fatalf("%s: no list of allowed options", url)
	}
	keys := strings.Split(m[1], ", ")
	if !slices.Contains(keys, "prefetch") {
		keys = append(keys, "prefetch")
	}
	return keys
}

// TestConfigurationDoc: docs/configuration.md lists, for every backend,
// exactly the options its driver accepts, and every older name.
func TestConfigurationDoc(t *testing.T) {
	raw, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "| option | meaning | ")
	if start < 0 {
		t.Fatal("docs/configuration.md has no options table")
	}
	lines := strings.Split(doc[start:], "\n")
	header := strings.Split(strings.Trim(lines[0], "|"), "|")
	for i, c := range columns {
		if got := strings.TrimSpace(header[i+2]); got != c.title {
			t.Fatalf("column %d is %q, want %q", i+2, got, c.title)
		}
	}
	documented := make([][]string, len(columns))
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != len(columns)+2 {
			t.Fatalf("row %q has %d cells", l, len(cells))
		}
		keys := regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(cells[0], -1)
		for i := range columns {
			if strings.TrimSpace(cells[i+2]) == "—" {
				continue
			}
			for _, k := range keys {
				documented[i] = append(documented[i], k[1])
			}
		}
	}
	for i, c := range columns {
		got, want := documented[i], accepted(t, c.url)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: docs/configuration.md lists %v; the driver accepts %v", c.title, got, want)
		}
	}
	for _, a := range optnames.Aliases {
		if !strings.Contains(doc, "| `"+a.Old+"`") || !strings.Contains(doc, "| `"+a.New+"` ") && !strings.Contains(doc, "| `"+a.New+"` (") {
			t.Errorf("docs/configuration.md does not list the older name %s of %s", a.Old, a.New)
		}
	}
}

// TestAliasesAreRead: every older name is accepted where it is listed,
// and refused when set together with its new name.
func TestAliasesAreRead(t *testing.T) {
	values := map[string]string{"tls_skip_verify": "true", "tls_insecure": "true", "connection_name": "x", "name": "x",
		"dial_timeout": "2s", "replication_factor": "2", "initial_offset": "newest", "deliver": "new", "window": "8"}
	newValues := map[string]string{"tls_insecure_skip_verify": "true", "client_id": "x", "connect_timeout": "2s", "replicas": "1", "start": "newest", "prefetch": "8"}
	for _, a := range optnames.Aliases {
		for _, scheme := range a.Schemes {
			url := map[string]string{"kafka": "kafka://h:9092", "amqp": "amqp://h:5672", "amqps": "amqps://h:5671", "nats": "nats://h:4222", "embedded": "embedded://" + t.TempDir()}[scheme]
			if scheme == "amqp" && strings.HasPrefix(a.Old, "tls") {
				continue // TLS options need amqps
			}
			validate := func(q string) error {
				cfg, err := herald.ParseURL(url + "?" + q)
				if err != nil {
					t.Fatal(err)
				}
				dcfg, _, err := adapters.SplitCommon(cfg)
				if err != nil {
					return err
				}
				_, err = adapters.For(dcfg)
				return err
			}
			if err := validate(a.Old + "=" + values[a.Old]); err != nil {
				t.Errorf("%s: the older name %s: %v", scheme, a.Old, err)
			}
			if err := validate(a.Old + "=" + values[a.Old] + "&" + a.New + "=" + newValues[a.New]); err == nil {
				t.Errorf("%s: %s and %s together accepted", scheme, a.Old, a.New)
			}
		}
	}
}
