package reserved

import "testing"

// TestRoundTrip: an escaped entry comes back exactly; a header that does
// not start with Prefix, or whose base64 is broken, is not an escaped one.
func TestRoundTrip(t *testing.T) {
	for _, e := range [][2]string{{"_watermill_message_uuid", "mine"}, {"Herald-Enc-x", ""}, {"k\r\nv", "ü\x00"}} {
		k, v := Escape(e[0], e[1])
		gk, gv, ok := Unescape(k, v)
		if !ok || gk != e[0] || gv != e[1] {
			t.Errorf("Unescape(Escape(%q, %q)) = %q, %q, %v", e[0], e[1], gk, gv, ok)
		}
	}
	for _, h := range [][2]string{{"content-type", "text/plain"}, {"Herald-Enc-!!", "eA=="}, {"Herald-Enc-eA", "not base64!"}} {
		if _, _, ok := Unescape(h[0], h[1]); ok {
			t.Errorf("Unescape(%q, %q) ok; want not an escaped header", h[0], h[1])
		}
	}
}
