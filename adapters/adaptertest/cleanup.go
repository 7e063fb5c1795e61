package adaptertest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// made records the topics and groups one test named, for Suite.Cleanup.
type made struct {
	mu     sync.Mutex
	topics []string
	groups []string
}

// track returns the record of the names t's test makes. t's cleanup,
// registered before the test opens anything (so it runs after every
// client of the test was closed), hands them to s.Cleanup; an error it
// returns is logged, never fails the test.
func track(t *testing.T, s Suite) *made {
	m := &made{}
	if s.Cleanup == nil {
		return m
	}
	t.Cleanup(func() {
		m.mu.Lock()
		topics, groups := m.topics, m.groups
		m.mu.Unlock()
		if len(topics)+len(groups) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Cleanup(ctx, topics, groups); err != nil {
			t.Logf("cleanup: delete topics %v, groups %v: %v", topics, groups, err)
		}
	})
	return m
}

// topic returns a fresh topic name, recorded.
func (m *made) topic(name string) string { return m.add(&m.topics, topicName(name)) }

// group returns a fresh group name, recorded.
func (m *made) group(name string) string { return m.add(&m.groups, groupName(name)) }

func (m *made) add(to *[]string, name string) string {
	m.mu.Lock()
	*to = append(*to, name)
	m.mu.Unlock()
	return name
}
