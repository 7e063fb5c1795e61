package adapters_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/memory"
)

func TestUnknownScheme(t *testing.T) {
	_, err := adapters.Lookup("kafka")
	if !errors.Is(err, herald.ErrUnknownScheme) {
		t.Fatalf("err = %v; want ErrUnknownScheme", err)
	}
	for _, w := range []string{`"kafka"`, "registered schemes: mem", `import _ "github.com/heraldkit/herald/adapters/kafka"`, "adapters/all"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	_, err = adapters.Lookup("rabbit")
	if !errors.Is(err, herald.ErrUnknownScheme) || !strings.Contains(err.Error(), "import the adapter package") {
		t.Errorf("unknown third-party scheme: %v", err)
	}
}

func TestForValidatesBeforeConnecting(t *testing.T) {
	for raw, want := range map[string]string{
		"mem://bus?buffer=0": `key "buffer": value "0": is out of range`,
		"mem://bus?typo=1":   `key "typo": is not a known option for scheme "mem"`,
		"mem://a,b":          `key "hosts"`,
		"nosuch://h":         "unknown",
	} {
		cfg, err := herald.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		d, err := adapters.For(cfg)
		if d != nil || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("For(%s) = %v, %v; want an error mentioning %q", raw, d, err, want)
		}
	}
	cfg, _ := herald.ParseURL("mem://bus?buffer=8")
	if d, err := adapters.For(cfg); err != nil || d == nil {
		t.Errorf("For(%s) = %v, %v; want the memory driver", cfg, d, err)
	}
	if got := adapters.Schemes(); len(got) == 0 || got[0] != "mem" {
		t.Errorf("Schemes() = %v", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	d, err := adapters.Lookup("mem")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering mem twice did not panic")
		}
	}()
	adapters.Register("MEM", d)
}

func TestRegisterNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering a nil driver did not panic")
		}
	}()
	adapters.Register("nil-driver", nil)
}
