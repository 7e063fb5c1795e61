package natsx

import (
	"testing"

	"github.com/heraldkit/herald"
)

// TestAutoReplicas: one replica without a cluster, up to three on one.
func TestAutoReplicas(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		servers int
		want    int
	}{
		{"", 1, 1}, {"", 3, 1}, {"c", 1, 1}, {"c", 2, 2}, {"c", 3, 3}, {"c", 5, 3}, {"c", 0, 1},
	} {
		if got := autoReplicas(tc.cluster, tc.servers); got != tc.want {
			t.Errorf("autoReplicas(%q, %d) = %d, want %d", tc.cluster, tc.servers, got, tc.want)
		}
	}
}

// TestReadReplicas: auto by default, a count from 1 to 5, else an error
// naming the option.
func TestReadReplicas(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int
		bad  bool
	}{
		{"", ReplicasAuto, false}, {"auto", ReplicasAuto, false}, {"1", 1, false}, {"5", 5, false},
		{"0", 0, true}, {"6", 0, true}, {"three", 0, true},
	} {
		opts := map[string]string{}
		if tc.raw != "" {
			opts["replicas"] = tc.raw
		}
		cfg := herald.Config{Options: opts}
		r := cfg.OptionReader()
		s := ReadSettings(r, cfg)
		err := r.Err()
		if tc.bad {
			if err == nil {
				t.Errorf("replicas=%s: no error", tc.raw)
			}
			continue
		}
		if err != nil || s.Replicas != tc.want {
			t.Errorf("replicas=%q: %d, %v; want %d", tc.raw, s.Replicas, err, tc.want)
		}
	}
}
