package embedded

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// settings is a validated Config.
type settings struct {
	dir    string
	server serverOptions
	js     natsx.Settings
}

var windowsDrive = regexp.MustCompile(`^/[A-Za-z]:`)

// parse validates cfg without starting anything; every problem is a
// *herald.ConfigError.
func parse(cfg herald.Config) (*settings, error) {
	// prefetch (the consume window) is the subscriber's: taken out and
	// checked here, read by the facade.
	cfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return nil, err
	}
	const allowed = "embedded:///absolute/dir, embedded://?dir=relative/dir, or embedded:// for the default directory"
	r := cfg.OptionReader()
	if len(cfg.Hosts) > 0 {
		r.Fail("hosts", cfg.Hosts[0], "is not used by the embedded broker (a path needs three slashes)", allowed)
	}
	if cfg.Username != "" || cfg.Password != "" {
		r.Fail("username", "", "is not used by the embedded broker", allowed)
	}
	s := &settings{}
	dirOpt := r.String("dir", "")
	path := cfg.Path
	if runtime.GOOS == "windows" && windowsDrive.MatchString(path) {
		path = path[1:]
	}
	switch {
	case path != "" && dirOpt != "":
		r.Fail("dir", dirOpt, "is set together with a path in the URL", allowed)
	case dirOpt != "":
		s.dir = dirOpt
	case path != "":
		s.dir = path
	default:
		d, err := DefaultDir()
		if err != nil {
			r.Fail("dir", "", "has no default here ("+err.Error()+")", allowed)
		}
		s.dir = d
	}
	if s.dir != "" {
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			r.Fail("dir", s.dir, "cannot be made absolute: "+err.Error(), allowed)
		}
		s.dir = abs
	}
	s.server.logs = r.Bool("log", false)
	switch v := r.String("sync", ""); v {
	case "", "default":
	case "always":
		s.server.syncAlways = true
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > time.Hour {
			r.Fail("sync", v, "is neither always nor a duration from 10ms to 1h", "always, default (2m), or a duration such as 1s")
		}
		s.server.syncInterval = d
	}
	s.js = natsx.ReadSettings(r, cfg)
	if s.js.Replicas == natsx.ReplicasAuto {
		s.js.Replicas = 1 // one server
	}
	if s.js.Replicas != 1 {
		r.Fail("replicas", fmt.Sprint(s.js.Replicas), "is more than the single embedded server can hold", "1")
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return s, nil
}
