package cli

import (
	"errors"
	"io"

	"github.com/tollgate/tollgate/config"
)

// TEMPORARY until config.ParseRoster lands: then parseRoster calls it.
func parseRoster(name string, r io.Reader) ([]config.RosterEntry, error) {
	return nil, errors.New("roster parsing is not available in this build yet")
}
