package faultkit

import (
	"io"
	"os"
	"reflect"
	"time"
)

// FillConfig fills in a suite's Config: every top-level int and
// time.Duration field of *c that is zero or negative takes def's value
// (def is DefaultConfig()), an empty *exe this executable (the binary a
// suite runs again for its child processes) and a nil *log stderr.
// Fields of other types, and those of nested structs, are left as they
// are.
func FillConfig[T any](c *T, def T, exe *string, log *io.Writer) {
	v, d := reflect.ValueOf(c).Elem(), reflect.ValueOf(def)
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Type() {
		case reflect.TypeFor[int](), reflect.TypeFor[time.Duration]():
			if f.CanSet() && f.Int() <= 0 {
				f.SetInt(d.Field(i).Int())
			}
		}
	}
	if *exe == "" {
		*exe, _ = os.Executable()
	}
	if *log == nil {
		*log = os.Stderr
	}
}
