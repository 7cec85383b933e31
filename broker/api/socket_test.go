package api_test

import (
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
)

// TestDefaultSocket keeps the CLI's default socket and the daemon's in step.
func TestDefaultSocket(t *testing.T) {
	if got, want := api.DefaultSocket, config.DefaultSocket; got != want {
		t.Errorf("api.DefaultSocket = %q, config.DefaultSocket = %q: they must be equal", got, want)
	}
}
