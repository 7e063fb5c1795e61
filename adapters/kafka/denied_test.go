package kafka

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestDeniedNamesUserAndACL(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{kerr.TopicAuthorizationFailed, "WRITE and DESCRIBE on the topic"},
		{fmt.Errorf("produce: %w", kerr.ClusterAuthorizationFailed), "IDEMPOTENT_WRITE"},
		{kerr.GroupAuthorizationFailed, "READ on the group"},
	} {
		err := denied("ro", tc.err)
		if !errors.Is(err, tc.err) || !authorizationFailed(tc.err) {
			t.Errorf("%v: not kept or not recognised: %v", tc.err, err)
		}
		for _, w := range []string{`permission denied for user "ro"`, tc.want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tc.err, err, w)
			}
		}
	}
	other := kerr.NotLeaderForPartition
	if err := denied("ro", other); err != other || authorizationFailed(other) {
		t.Errorf("a transient error was changed: %v", err)
	}
}
