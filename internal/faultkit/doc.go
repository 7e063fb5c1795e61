// Package faultkit is what Herald's two fault suites share: the broker
// fault suite (chaos/) and the outbox fault suite
// (outbox/outboxtest/faults): server processes started in a process group
// of their own and SIGKILLed by it (Proc), the suite's binary run again in
// a role, read line by line (Child), the commands' -json and -table flags
// and the printing of their results (Output), markdown tables and config
// defaults. It holds no suite's logic; it uses the standard library only.
package faultkit
