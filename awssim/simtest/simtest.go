// Package simtest holds the test helpers of the simulated cloud. It imports package
// testing, so it lives apart from awssim: the daemon links awssim (for `tollgated sim`
// and `tollgated dev`) and must not link testing. Import it from _test.go files only.
package simtest

import (
	"net/http/httptest"
	"testing"

	"github.com/tollgate/tollgate/awssim"
)

// Start serves a new simulator on a loopback httptest server for the duration of the
// test and returns it with its base URL (use as the SDK's BaseEndpoint).
func Start(t testing.TB, opts awssim.Options) (*awssim.Sim, string) {
	t.Helper()
	sim := awssim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.CloseSSH)
	return sim, srv.URL
}
