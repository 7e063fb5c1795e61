// Package benchkit is the benchmark engine shared by `herald bench` and the
// comparison program in bench/ (its own module, so that the native clients
// it measures stay out of the library's go.mod).
//
// # Cases
//
// A Case publishes N messages of S bytes through some path and consumes
// them with some subscriber. It gets a *Run: payloads come from
// Run.Payload, which stamps the send time into the first 8 bytes and the
// message's sequence number into the next 8; the consumer hands every
// payload it handled to Run.Received, which records the end-to-end latency
// and closes Run.Done when all N distinct messages arrived (duplicates from
// at-least-once redelivery are counted, not double-counted). Case code
// calls Run.Start right before the first publish and Run.Published after
// the last one returned.
//
// # Measuring
//
// A Runner runs every case once per round, interleaved (A B C A B C ...),
// and keeps per case: publish msg/s (N / time until Published), end-to-end
// msg/s (N / time until the last message was received), p50/p95/p99
// end-to-end latency, allocations per message (the whole process's
// runtime.MemStats.Mallocs delta over the case divided by N: client
// library goroutines included, on purpose) and the peak resident set
// (VmRSS from /proc/self/status sampled every 10 ms; 0 where /proc is
// missing). Figures are summarised over rounds as median and min..max.
//
// # Reports
//
// Report.WriteText prints a table, Report.WriteJSON the raw figures,
// Report.WriteMarkdown the body of docs/performance.md and Report.WriteSVG
// a bar chart of the ratios (Herald / native, Herald / Watermill), all
// computed from the same run.
package benchkit
