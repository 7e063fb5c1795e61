package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// treeRecorder is a span processor that keeps the ended spans, so that
// -demo can print each trace as a tree once everything is done.
type treeRecorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (t *treeRecorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (t *treeRecorder) Shutdown(context.Context) error                  { return nil }
func (t *treeRecorder) ForceFlush(context.Context) error                { return nil }

func (t *treeRecorder) OnEnd(s sdktrace.ReadOnlySpan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spans = append(t.spans, s)
}

// print writes one tree per trace, children in start order:
//
//	trace 4bf9...
//	  POST /orders (server)
//	    send shop.orders.placed (producer)
//	      process shop.orders.placed (consumer)
//	...
func (t *treeRecorder) print(w io.Writer) {
	t.mu.Lock()
	spans := append([]sdktrace.ReadOnlySpan(nil), t.spans...)
	t.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartTime().Before(spans[j].StartTime()) })
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && ids[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(w, "%s%s (%s)\n", strings.Repeat("  ", depth), s.Name(), s.SpanKind())
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		fmt.Fprintf(w, "trace %s\n", r.SpanContext().TraceID())
		walk(r, 1)
	}
}
