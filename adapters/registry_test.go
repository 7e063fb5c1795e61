package adapters_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/memory"
)

func TestUnknownScheme(t *testing.T) {
	_, err := adapters.OpenPublisher(context.Background(), "kafka://localhost:9092")
	if !errors.Is(err, herald.ErrUnknownScheme) {
		t.Fatalf("err = %v; want ErrUnknownScheme", err)
	}
	for _, w := range []string{`"kafka"`, "registered schemes: mem", `import _ "github.com/heraldkit/herald/adapters/kafka"`, "adapters/all"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	_, err = adapters.OpenSubscriber(context.Background(), "rabbit://h")
	if !errors.Is(err, herald.ErrUnknownScheme) || !strings.Contains(err.Error(), "import the adapter package") {
		t.Errorf("unknown third-party scheme: %v", err)
	}
}

func TestOpenValidatesBeforeConnecting(t *testing.T) {
	_, _, err := adapters.Open(context.Background(), "mem://bus?buffer=0&typo=1")
	var ce *herald.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v; want a *ConfigError", err)
	}
	for _, w := range []string{`key "buffer": value "0": is out of range`, `key "typo": is not a known option for scheme "mem" (allowed: buffer, group)`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	pub, sub, err := adapters.Open(ctx, "mem://registry-test?group=g")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	defer sub.Close()
	ch, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("t", herald.NewMessage([]byte("hi"))); err != nil {
		t.Fatal(err)
	}
	m := <-ch
	m.Ack()
	if string(m.Payload) != "hi" {
		t.Errorf("payload %q", m.Payload)
	}
	if got := adapters.Schemes(); len(got) == 0 || got[0] != "mem" {
		t.Errorf("Schemes() = %v", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering mem twice did not panic")
		}
	}()
	adapters.Register("mem", nil)
}

func TestLoggerTravelsInContext(t *testing.T) {
	if adapters.Logger(context.Background()) != herald.DefaultLogger() {
		t.Error("without a logger in ctx, Logger should be herald.DefaultLogger()")
	}
	l := slog.New(slog.DiscardHandler)
	if adapters.Logger(adapters.ContextWithLogger(context.Background(), l)) != l {
		t.Error("Logger did not return the logger put in ctx")
	}
}
