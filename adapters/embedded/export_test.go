package embedded

import "path/filepath"

// Running reports whether this process runs a server on dir, and how many
// publishers and subscribers use it.
func Running(dir string) (bool, int) {
	key, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, 0
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	in := registry[key]
	if in == nil {
		return false, 0
	}
	return true, in.refs
}

// Restart restarts the server running on dir, keeping its data.
func Restart(dir string) error {
	key, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	registryMu.Lock()
	in := registry[key]
	registryMu.Unlock()
	if in == nil {
		return nil
	}
	return in.restart()
}
