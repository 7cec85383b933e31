package cloud_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
)

// Test credentials. The secrets are distinctive so a leak is easy to grep for.
const (
	testKeyID     = "AKIATESTAWSENV000001"
	testSecret    = "awsenvSECRETdoNotLog/0123456789abcdefghij"
	gbrowseKeyID  = "AKIATESTGBROWSE00001"
	gbrowseSecret = "gbrowseSECRETdoNotLog/0123456789abcdefghij"
	west          = "us-west-2"
)

// credentialEnv is every variable that steers the SDK's credential and endpoint loading;
// clearEnv unsets them all so the developer's own AWS setup cannot leak into a test.
var credentialEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
	"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_CA_BUNDLE", "EC2_ACCESS_KEY", "EC2_SECRET_KEY",
}

// clearEnv isolates the test from the machine's AWS configuration: no credential
// variables, empty shared config files, no instance metadata.
func clearEnv(t testing.TB) {
	t.Helper()
	for _, k := range credentialEnv {
		t.Setenv(k, "") // registers restoration
		if err := os.Unsetenv(k); err != nil {
			t.Fatalf("unset %s: %v", k, err)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// transport sits between the SDK and awssim. It records what went over the wire and,
// when advance is set, moves the simulator's clock forward after every throttled or
// failed response: the time a real client would spend backing off, so token buckets
// refill without the test sleeping.
type transport struct {
	sim     *awssim.Sim
	advance time.Duration

	mu       sync.Mutex
	statuses []int
	keyIDs   map[string]int
	actions  map[string]int // query API Action -> requests sent
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Method == http.MethodPost {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			tr.mu.Lock()
			tr.actions[form.Get("Action")]++
			tr.mu.Unlock()
		}
	}
	auth := r.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		id, _, _ := strings.Cut(auth[i+len("Credential="):], "/")
		tr.mu.Lock()
		tr.keyIDs[id]++
		tr.mu.Unlock()
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tr.statuses = append(tr.statuses, resp.StatusCode)
	tr.mu.Unlock()
	if resp.StatusCode >= 500 && tr.advance > 0 {
		tr.sim.Advance(tr.advance)
	}
	return resp, nil
}

// count returns how many responses had a status for which match is true.
func (tr *transport) count(match func(int) bool) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, s := range tr.statuses {
		if match(s) {
			n++
		}
	}
	return n
}

// sent returns how many requests for the query API action went over the wire.
func (tr *transport) sent(action string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.actions[action]
}

// seenKeyIDs returns the access key ids that signed requests.
func (tr *transport) seenKeyIDs() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for k, v := range tr.keyIDs {
		out[k] = v
	}
	return out
}

func is5xx(s int) bool { return s >= 500 }

// fixture is a simulator, a Client pointed at it, and what the client logged and sent.
type fixture struct {
	sim *awssim.Sim
	url string
	c   *cloud.Client
	log *syncBuffer
	tr  *transport
	ctx context.Context
}

// setup starts awssim with a manual clock, sets AWS_* test credentials and returns a
// Client with fast retries. mod adjusts the Config before New.
func setup(t testing.TB, mod ...func(*cloud.Config)) *fixture {
	t.Helper()
	clearEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	return setupEnv(t, mod...)
}

// setupEnv is setup without touching the environment.
func setupEnv(t testing.TB, mod ...func(*cloud.Config)) *fixture {
	t.Helper()
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	f := &fixture{sim: sim, url: url, log: &syncBuffer{}, ctx: context.Background()}
	f.tr = &transport{sim: sim, keyIDs: map[string]int{}, actions: map[string]int{}}
	cfg := cloud.Config{
		Regions:     []string{west},
		EndpointURL: url,
		MaxBackoff:  time.Millisecond,
		// The limiter runs on the wall clock; its pacing is tested with a driven clock
		// in fair_test.go, so here it only must not slow the suite down.
		RunPerSecond: 1000,
		HTTPClient:   &http.Client{Transport: f.tr},
		Now:          sim.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := cloud.New(f.ctx, cfg, logger)
	if err != nil {
		t.Fatalf("cloud.New: %v", err)
	}
	f.c = c
	return f
}

// run launches with defaults filled in and fails the test on error.
func (f *fixture) run(t *testing.T, in cloud.RunInput) []cloud.Instance {
	t.Helper()
	if in.Region == "" {
		in.Region = west
	}
	if in.ImageID == "" {
		in.ImageID = awssim.FixedImageID
	}
	if in.Type == "" {
		in.Type = "t3.micro"
	}
	insts, err := f.c.RunInstances(f.ctx, in)
	if err != nil {
		t.Fatalf("RunInstances(%+v): %v", in, err)
	}
	return insts
}

// ids returns the instances' ids.
func ids(insts []cloud.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}
