package herald

import "os"

// EmbeddedDefaultDir is embeddedDefaultDir for the external tests.
func EmbeddedDefaultDir() (string, error) { return embeddedDefaultDir(os.Getenv) }
