package cli

import "os"

// syscallEnviron is the environment handed to exec'd programs (ssh): the caller's own.
func syscallEnviron() []string { return os.Environ() }
