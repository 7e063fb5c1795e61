// Package reserved escapes metadata entries whose key a backend reserves
// for itself (the ID header, Herald's own escape prefix), so that such an
// entry set by a user travels and comes back exactly instead of being
// overwritten or dropped. Every backend uses the one form NATS has used
// from the start:
//
//	Herald-Enc-<base64url(key), unpadded>: <base64(value)>
//
// Escaping rather than refusing: a message consumed from one backend or
// from a Watermill application and published again (a dead-letter copy,
// a bridge) may carry such a key without the user ever setting it, and a
// publish that fails over a header name would lose that message; an
// escaped entry loses nothing, and a foreign client sees a header whose
// name says what it is.
package reserved

import (
	"encoding/base64"
	"strings"
)

// Prefix starts the key of an escaped entry.
const Prefix = "Herald-Enc-"

// Escape returns the header key and value that carry the metadata entry
// k, v.
func Escape(k, v string) (string, string) {
	return Prefix + base64.RawURLEncoding.EncodeToString([]byte(k)), base64.StdEncoding.EncodeToString([]byte(v))
}

// Unescape returns the metadata entry an escaped header k, v carries; ok
// is false when k does not start with Prefix or k or v is not valid
// base64 (the header is then an ordinary one).
func Unescape(k, v string) (key, value string, ok bool) {
	enc, found := strings.CutPrefix(k, Prefix)
	if !found {
		return "", "", false
	}
	kb, kerr := base64.RawURLEncoding.DecodeString(enc)
	vb, verr := base64.StdEncoding.DecodeString(v)
	if kerr != nil || verr != nil {
		return "", "", false
	}
	return string(kb), string(vb), true
}
