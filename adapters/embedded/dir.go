package embedded

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDir returns the data directory of embedded:// (no path):
//
//   - $XDG_DATA_HOME/herald/embedded when XDG_DATA_HOME is set;
//   - Linux and other Unix: ~/.local/share/herald/embedded;
//   - macOS: ~/Library/Application Support/herald/embedded;
//   - Windows: %LocalAppData%\herald\embedded.
//
// It is a data directory, not a cache: it holds messages not yet consumed.
func DefaultDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "herald", "embedded"), nil
	}
	switch runtime.GOOS {
	case "windows":
		d, err := os.UserCacheDir() // %LocalAppData%
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "herald", "embedded"), nil
	case "darwin", "ios":
		d, err := os.UserConfigDir() // ~/Library/Application Support
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "herald", "embedded"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	if home == "" {
		return "", errors.New("no home directory")
	}
	return filepath.Join(home, ".local", "share", "herald", "embedded"), nil
}
