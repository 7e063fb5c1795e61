package otelmw_test

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
)

// TestRecommendedWrapsMiddlewareStack: otelmw's stacks are package
// middleware's with Tracing and Metrics outside, each left out on
// request, and middleware.Recommended's validation passes through.
func TestRecommendedWrapsMiddlewareStack(t *testing.T) {
	inner, err := middleware.Recommended(nil, middleware.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  otelmw.Config
		want int
	}{
		{"zero Config", otelmw.Config{}, len(inner) + 2},
		{"no tracing", otelmw.Config{DisableTracing: true}, len(inner) + 1},
		{"neither", otelmw.Config{DisableTracing: true, DisableMetrics: true}, len(inner)},
	} {
		mws, err := otelmw.Recommended(nil, c.cfg)
		if err != nil || len(mws) != c.want {
			t.Errorf("%s: %d middleware, %v; want %d", c.name, len(mws), err, c.want)
		}
	}
	if _, err := otelmw.Recommended(nil, otelmw.Config{Config: middleware.Config{Timeout: -time.Second}}); !errors.Is(err, herald.ErrInvalidConfig) {
		t.Errorf("negative timeout: err = %v; want herald.ErrInvalidConfig", err)
	}
	pubs := len(middleware.RecommendedPublish(middleware.Config{}))
	if got := len(otelmw.RecommendedPublish(otelmw.Config{})); got != pubs+2 {
		t.Errorf("RecommendedPublish: %d middleware; want %d", got, pubs+2)
	}
	if got := len(otelmw.RecommendedPublish(otelmw.Config{DisableTracing: true, DisableMetrics: true})); got != pubs {
		t.Errorf("RecommendedPublish without tracing and metrics: %d middleware; want %d", got, pubs)
	}
}
