//go:build race

package sim_test

// raceEnabled: the race detector slows a seed about fivefold, and make
// test runs with it, so fewer seeds run by default (defaultSeeds).
const raceEnabled = true
