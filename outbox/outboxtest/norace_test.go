//go:build !race

package outboxtest

// raceEnabled reports a build with the race detector.
const raceEnabled = false
