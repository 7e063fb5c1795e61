package natsx

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/nats-io/nats.go"
)

// The server refuses a publish outside the user's permissions with an
// asynchronous -ERR (no PubAck ever comes), which nats.go reports as
// "nats: permissions violation: Permissions Violation for Publish to
// "<subject>"".
var deniedPublish = regexp.MustCompile(`(?i)for publish to "([^"]+)"`)

// deniedSubject returns the subject of a refused publish reported by err.
func deniedSubject(err error) (string, bool) {
	if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
		return "", false
	}
	m := deniedPublish.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// publishDenied is the cause given to the publishes to subject the
// server refused: it names the subject and the user (never a secret).
func publishDenied(nc *nats.Conn, subject string, err error) error {
	who := "the connection's user (token, nkey or creds)"
	if u := nc.Opts.User; u != "" {
		who = fmt.Sprintf("user %q", u)
	} else if nc.Opts.Nkey == "" && nc.Opts.Token == "" && nc.Opts.UserJWT == nil {
		who = "the connection (no user)"
	}
	return fmt.Errorf("permission denied to publish to %q for %s (the server's publish permissions do not allow the subject): %w", subject, who, err)
}
