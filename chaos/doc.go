// Package chaos is Herald's fault harness (issue 10, "faults, counted"):
// a publisher under steady keyed load and a consumer group of separate OS
// processes, with one fault injected per case (a broker SIGKILLed and
// restarted, a network black hole or connection resets through a TCP
// proxy, a consumer process SIGKILLed, a cluster node killed), every
// message counted by ID. A message is acked when Publish returned nil;
// the harness reports acked messages lost (must be 0), duplicates,
// publish errors, the time until consumption resumes after the fault and
// the case's duration, as a markdown table or JSON.
//
// chaos/cmd/chaos is the command (make chaos, make chaos-short);
// docs/reliability.md has the figures and what each case does. What it
// shares with the outbox's fault suite (processes, child processes, the
// command's output) is internal/faultkit.
package chaos
