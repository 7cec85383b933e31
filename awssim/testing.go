package awssim

import (
	"net/http/httptest"
	"testing"
)

// StartTest serves a new simulator on a loopback httptest server for the duration of the
// test and returns it with its base URL (use as the SDK's BaseEndpoint). It lives in a
// non-test file so other packages' tests can use it.
func StartTest(t testing.TB, opts Options) (*Sim, string) {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}
