package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSecretsOf(t *testing.T) {
	t.Setenv("HERALD_URL", "")
	t.Setenv("HERALD_PASSWORD", "env-Secret-1")
	t.Setenv("HERALD_HOSTS", "h:4222")
	t.Setenv("HERALD_SCHEME", "nats")
	s := secretsOf([]string{"publish", "-url", "nats://app:p%40ss-word@h:4222?token=tok-123", "-topic", "t"})
	s2 := secretsOf([]string{"consume", "--url=amqp://u:other-pw@h:5672/", "x"})
	for _, tc := range []struct {
		s      secrets
		in     string
		hidden []string
	}{
		{s, "auth p@ss-word, p%40ss-word, token tok-123, env env-Secret-1", []string{"p@ss-word", "p%40ss-word", "tok-123", "env-Secret-1"}},
		{s2, "login other-pw refused", []string{"other-pw"}},
	} {
		out := tc.s.scrub(tc.in)
		for _, h := range tc.hidden {
			if strings.Contains(out, h) {
				t.Errorf("scrub(%q) = %q; shows %q", tc.in, out, h)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("scrub(%q) = %q; want REDACTED", tc.in, out)
		}
	}
	var stderr bytes.Buffer
	if code := exitCode(errors.New("herald/amqp: login with other-pw refused"), s2, &stderr); code != 1 || strings.Contains(stderr.String(), "other-pw") {
		t.Errorf("exitCode printed %q, returned %d; want the password hidden and 1", stderr.String(), code)
	}
}
