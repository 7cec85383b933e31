package iamusers_test

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tollgate/tollgate/awssim/iamsim"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/iamusers"
)

// daemonKeyID is the daemon's access key id in these tests.
const daemonKeyID = "AKIDDAEMONTEST"

// clock is the manual clock shared by the simulator and the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// env is a service on a temp database and an iamsim account reached over HTTP through
// the real cloud client.
type env struct {
	t      testing.TB
	clock  *clock
	sim    *iamsim.Sim
	faults *faults // between the daemon's client and the simulator
	cloud  *cloud.Client
	admin  *iam.Client // direct IAM access, for changes "out of band"
	dbPath string
	db     *db.DB
	logs   *syncBuffer
	opts   iamusers.Options
	svc    *iamusers.Service
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	// Keep the developer's own AWS files and variables out of the test.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", daemonKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-secret-not-a-student-one")
	t.Setenv("AWS_REGION", "us-west-2")

	c := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	sim := iamsim.New(c.Now)
	fl := &faults{next: sim}
	srv := httptest.NewServer(fl)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cl, err := cloud.New(ctx, cloud.Config{Regions: []string{"us-west-2"}, EndpointURL: srv.URL, MaxAttempts: 2, MaxBackoff: time.Millisecond, Now: c.Now}, logger)
	if err != nil {
		t.Fatalf("cloud.New: %v", err)
	}
	d := dbtest.OpenRun(t, dir)
	d.Now = c.Now
	admin := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDADMIN", "x", "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e := &env{t: t, clock: c, sim: sim, faults: fl, cloud: cl, admin: admin, dbPath: d.Path(), db: d, logs: logs}
	e.opts = iamusers.Options{
		DB: d, Cloud: cl, Region: "us-west-2", Logger: logger, Now: c.Now,
		Config: config.IAM{UserNamePattern: "tollgate-{user}", Path: "/tollgate/", PolicyName: "tollgate-student", PropagationTimeout: 30 * time.Second},
		Sleep:  func(ctx context.Context, d time.Duration) error { c.Advance(d); return nil },
	}
	e.svc = e.newService(e.opts)
	return e
}

func (e *env) newService(opts iamusers.Options) *iamusers.Service {
	e.t.Helper()
	s, err := iamusers.New(opts)
	if err != nil {
		e.t.Fatalf("iamusers.New: %v", err)
	}
	return s
}

func (e *env) issue(user string, rotate bool) iamusers.Credentials {
	e.t.Helper()
	cr, err := e.svc.Issue(context.Background(), user, rotate)
	if err != nil {
		e.t.Fatalf("Issue(%s, rotate=%v): %v", user, rotate, err)
	}
	return cr
}

// simUser returns the ground truth about an IAM user, failing if it does not exist.
func (e *env) simUser(name string) iamsim.User {
	e.t.Helper()
	u, ok := e.sim.LookupUser(name)
	if !ok {
		e.t.Fatalf("IAM user %s does not exist", name)
	}
	return u
}

// createKey adds an access key directly in IAM (out of band).
func (e *env) createKey(name string) string {
	e.t.Helper()
	out, err := e.admin.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("CreateAccessKey %s: %v", name, err)
	}
	return aws.ToString(out.AccessKey.AccessKeyId)
}

func (e *env) audit(action string) []db.AuditEntry {
	e.t.Helper()
	es, err := e.db.ListAudit(context.Background(), db.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatalf("ListAudit: %v", err)
	}
	return es
}

func keyIDs(u iamsim.User) []string {
	var out []string
	for _, k := range u.Keys {
		out = append(out, k.ID+"/"+k.Status)
	}
	return out
}

// faults stands between the clients and the simulator. It notes every Action the daemon
// sends. Armed with n, it refuses the daemon's nth request from then on with AccessDenied
// (which the SDK does not retry), as if the daemon had died just before sending it, and
// disarms.
type faults struct {
	next http.Handler

	mu        sync.Mutex
	seen      map[string]bool // Actions the daemon sent
	countdown int             // requests of the daemon's until the refused one; 0: disarmed
	refused   string          // the Action refused last
	rules     []faultRule     // standing answers to some of the daemon's requests
	counts    map[string]int  // the daemon's requests by "Action UserName"
}

// faultRule answers the daemon's requests for Action (and UserName, unless "") with an
// error, instead of the simulator.
type faultRule struct {
	action, user string
	status       int
	code         string
}

// answer makes every request of the daemon's for action (for user, "" = any) fail with
// HTTP status and code, from now on.
func (f *faults) answer(action, user string, status int, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, faultRule{action: action, user: user, status: status, code: code})
}

// count returns how many requests for action (and user) the daemon sent.
func (f *faults) count(action, user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[action+" "+user]
}

// sent returns the Actions the daemon sent since the last call, sorted.
func (f *faults) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Sorted(maps.Keys(f.seen))
	f.seen = nil
	return out
}

// arm makes the daemon's nth request from now fail.
func (f *faults) arm(n int) { f.mu.Lock(); defer f.mu.Unlock(); f.countdown, f.refused = n, "" }

// disarm cancels an armed failure and returns the Action refused, "" if none was.
func (f *faults) disarm() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.countdown = 0
	return f.refused
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rule, ok := f.rule(r); ok {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(rule.status)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>` + rule.code + `</Code><Message>injected ` + rule.code + `</Message></Error><RequestId>0</RequestId></ErrorResponse>`))
		return
	}
	if f.refuse(r) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>injected</Message></Error><RequestId>0</RequestId></ErrorResponse>`))
		return
	}
	f.next.ServeHTTP(w, r)
}

// rule counts the daemon's request and returns the standing rule that answers it, if any.
func (f *faults) rule(r *http.Request) (faultRule, bool) {
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+daemonKeyID+"/") {
		return faultRule{}, false
	}
	_ = r.ParseForm()
	action, user := r.Form.Get("Action"), r.Form.Get("UserName")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[action+" "+user]++
	for _, rl := range f.rules {
		if rl.action == action && (rl.user == "" || rl.user == user) {
			return rl, true
		}
	}
	return faultRule{}, false
}

// refuse notes the daemon's requests (signed with the test's AWS_ACCESS_KEY_ID), counts
// them while armed and reports whether this one is the one to refuse.
func (f *faults) refuse(r *http.Request) bool {
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+daemonKeyID+"/") {
		return false
	}
	_ = r.ParseForm() // the simulator reads the parsed form
	action := r.Form.Get("Action")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[action] = true
	if f.countdown == 0 {
		return false
	}
	if f.countdown--; f.countdown > 0 {
		return false
	}
	f.refused = action
	return true
}
