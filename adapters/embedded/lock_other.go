//go:build !unix && !windows

package embedded

// LockFile would hold the directory lock; this platform has none, so two
// processes must not share a data directory.
const LockFile = "herald.lock"

func lockDir(string) (func(), error) { return func() {}, nil }
