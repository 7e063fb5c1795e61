package natsx

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPullBody(t *testing.T) {
	var req struct {
		Batch     int           `json:"batch"`
		Expires   time.Duration `json:"expires"`
		Heartbeat time.Duration `json:"idle_heartbeat"`
	}
	if err := json.Unmarshal(pullBody(17), &req); err != nil {
		t.Fatal(err)
	}
	if req.Batch != 17 || req.Expires != pullExpires || req.Heartbeat != pullHeartbeat {
		t.Errorf("request %+v", req)
	}
	if req.Expires < 2*req.Heartbeat {
		t.Error("the server wants the expiry at least twice the heartbeat")
	}
	var nak struct {
		Delay time.Duration `json:"delay"`
	}
	b := nakDelay(3 * time.Second)
	if string(b[:5]) != "-NAK " {
		t.Fatalf("%q", b)
	}
	if err := json.Unmarshal(b[5:], &nak); err != nil || nak.Delay != 3*time.Second {
		t.Errorf("%q: %v %v", b, nak.Delay, err)
	}
}

func TestRequestID(t *testing.T) {
	const inbox = "_INBOX.abc."
	for subject, want := range map[string]uint64{
		inbox + "12": 12, inbox + "x": 0, inbox: 0, "other": 0, inbox + "3.4": 0,
	} {
		if got := requestID(subject, len(inbox)); got != want {
			t.Errorf("requestID(%q) = %d, want %d", subject, got, want)
		}
	}
}

func TestStreamSeq(t *testing.T) {
	for reply, want := range map[string]string{
		"$JS.ACK.ORDERS.c1.3.10.7.1700000000.2":             "ORDERS:10",
		"$JS.ACK._.hash.ORDERS.c1.12.11.7.1700000000.2.tok": "ORDERS:11",
		"$JS.ACK.a.b": "",
		"_INBOX.x":    "",
	} {
		s, n, ok := streamSeq(reply)
		got := ""
		if ok {
			got = jsFallbackID(s, n)
		}
		if got != want {
			t.Errorf("streamSeq(%q) = %q, want %q", reply, got, want)
		}
	}
}

// The accounting plan relies on: arrivals, the ends of requests, and
// the silence of the server (plan itself needs a connection: the window
// bound is checked end to end by StreamWindow).
func TestPullAccounting(t *testing.T) {
	st := &Stream{window: 8, reqs: map[uint64]*pullRequest{}, pullWait: minPullWait}
	now := time.Now()
	st.reqs[1] = &pullRequest{batch: 8, expires: now.Add(time.Minute)}
	st.reqs[2] = &pullRequest{batch: 4, expires: now.Add(time.Minute)}
	st.asked = 12
	st.arrived(now)
	st.arrived(now)
	if st.asked != 10 {
		t.Errorf("asked %d after two arrivals, want 10", st.asked)
	}
	st.ended(1, 3, true) // expired with 3 not brought
	if st.asked != 7 || len(st.reqs) != 1 {
		t.Errorf("asked %d, %d requests after an expiry", st.asked, len(st.reqs))
	}
	st.ended(2, 0, false) // refused: none of its 4
	if st.asked != 3 {
		t.Errorf("asked %d after a refusal, want 3", st.asked)
	}
	st.seen = now.Add(-time.Minute)
	if !st.housekeep(now) || st.asked != 0 {
		t.Error("awaiting messages with a silent server: requests not dropped")
	}
	st.asked, st.seen = 0, now.Add(-time.Minute)
	if st.housekeep(now) {
		t.Error("silence while awaiting nothing taken as a problem")
	}
}
