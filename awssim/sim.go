// Package awssim is a wire-compatible, stateful, in-memory simulation of the parts of AWS
// that tollgate uses (EC2 here; IAM and STS in the mounted iamsim package). It is served
// over real HTTP so the unmodified aws-sdk-go-v2 clients are exercised end to end by
// pointing BaseEndpoint or AWS_ENDPOINT_URL at it.
//
// The simulator keeps a driven clock (so tests never sleep), computes instance lifecycle
// lazily from that clock, keeps a ground-truth billing ledger, and exposes fault knobs
// (throttling, error rates, lost responses, latency, eventual consistency). It is a test
// and demo tool, never a production path.
package awssim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/awssim/iamsim"
)

// DefaultStart is where a manual clock starts when Options.Start is zero.
var DefaultStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// Options configure a simulator.
type Options struct {
	// Clock is "manual" (the default: starts at Start and moves only when advanced, so
	// tests are deterministic) or "real" (wall-clock time, for demos).
	Clock string
	// Start is the manual clock's starting time; zero means DefaultStart.
	Start time.Time
	// Regions are the regions that exist; empty means DefaultRegions.
	Regions []string
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// AccessKeyIDs, when not empty, are the only access key ids requests may be signed
	// with, for every service and for the /_sim/ control paths. EC2 and STS also accept
	// the keys a mounted service vouches for (see KeyKnower), as AWS accepts a user's own
	// keys; IAM and the control paths do not (AWS would check the user's policy, which
	// the simulator does not model). Anything else, or an unsigned request, is refused as
	// AWS refuses an unknown key: AuthFailure (401) from EC2, InvalidClientTokenId (403)
	// from IAM and STS, 403 from the control paths. Signatures are not verified: this
	// keeps other local users, who do not know the id, away from a shared simulator
	// (`tollgated dev` generates a random one per run). Empty means any key, or none.
	AccessKeyIDs []string
	// ControlToken, when not empty, is also accepted on the /_sim/ control paths as
	// "Authorization: Bearer TOKEN", so scripts (curl) need not sign requests. It only
	// matters together with AccessKeyIDs; see ControlTokenFor.
	ControlToken string
}

// ControlTokenFor derives the control paths' bearer token from a secret access key:
// whoever holds the run's secret can compute it, and it reveals nothing of the secret.
func ControlTokenFor(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("awssim control v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// KeyKnower is a mounted service that issues access keys (iamsim): EC2 requests signed
// with a key it knows are accepted under Options.AccessKeyIDs too, as AWS accepts a
// user's own keys.
type KeyKnower interface {
	KnowsKey(accessKeyID string) bool
}

// ProfileKeeper is a mounted service that keeps IAM instance profiles (iamsim):
// RunInstances refuses a profile it does not know, as EC2 does, and gives the instance
// the profile's own ARN and id.
type ProfileKeeper interface {
	// InstanceProfile looks a profile up by name, or by ARN when nameOrARN starts with
	// "arn:".
	InstanceProfile(nameOrARN string) (arn, id string, ok bool)
	// AddInstanceProfile creates a profile (keeping an existing one) and returns its ARN.
	AddInstanceProfile(name string) (arn string)
}

// QueryService serves one AWS Query-protocol service mounted into the simulator.
type QueryService interface {
	ServeQuery(w http.ResponseWriter, r *http.Request, service, region, accessKeyID, action string, form url.Values)
}

// Sim is one simulated AWS account. All methods are safe for concurrent use.
type Sim struct {
	log *slog.Logger

	clockMu sync.Mutex
	manual  bool
	cur     time.Time     // manual clock reading
	offset  time.Duration // added to wall time when the clock is real

	mountMu sync.RWMutex
	mounts  map[string]QueryService

	accessKeys   map[string]bool // Options.AccessKeyIDs; empty = any key
	controlToken string          // Options.ControlToken

	mu          sync.Mutex // guards everything below
	regionNames []string
	regions     map[string]*region
	byID        map[string]*instance // every instance ever launched, all regions
	volByID     map[string]*volume
	counter     uint64
	faults      Faults
	faultState  *faultState
	ssmState    *ssmState // Systems Manager (ssm.go), made on first use
	sshOnce     sync.Once
	sshState    *sshState // the instances' SSH daemons (sshd.go), made on first use

	reqCounter atomic.Uint64
}

// New returns a simulator with seeded images in every region, no instances and no
// faults. IAM and STS are served by an iamsim instance sharing this clock.
func New(opts Options) *Sim {
	s := &Sim{
		log:          opts.Logger,
		manual:       opts.Clock != "real",
		controlToken: opts.ControlToken,
		mounts:       map[string]QueryService{},
		regions:      map[string]*region{},
		byID:         map[string]*instance{},
		volByID:      map[string]*volume{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if len(opts.AccessKeyIDs) > 0 {
		s.accessKeys = make(map[string]bool, len(opts.AccessKeyIDs))
		for _, k := range opts.AccessKeyIDs {
			s.accessKeys[k] = true
		}
	}
	s.cur = opts.Start
	if s.cur.IsZero() {
		s.cur = DefaultStart
	}
	s.cur = s.cur.UTC()
	names := opts.Regions
	if len(names) == 0 {
		names = DefaultRegions
	}
	for _, n := range names {
		if _, dup := s.regions[n]; dup {
			continue
		}
		s.regionNames = append(s.regionNames, n)
		s.regions[n] = newRegion(n)
	}
	s.faultState = newFaultState(Faults{})
	iam := iamsim.New(s.Now)
	s.Mount("iam", iam)
	s.Mount("sts", iam)
	return s
}

// Mount routes requests whose SigV4 credential scope names service to q.
func (s *Sim) Mount(service string, q QueryService) {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	s.mounts[service] = q
}

// Now is the simulator's clock reading, in UTC.
func (s *Sim) Now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if s.manual {
		return s.cur
	}
	return time.Now().Add(s.offset).UTC()
}

// Advance moves the clock forward by d. Instance lifecycle and billing are computed from
// the clock, so everything that would have happened in the interval has happened.
// Under a real clock it shifts the reading by d as well.
func (s *Sim) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if s.manual {
		s.cur = s.cur.Add(d)
	} else {
		s.offset += d
	}
}

// Regions lists the simulated regions in configuration order.
func (s *Sim) Regions() []string { return append([]string(nil), s.regionNames...) }

// ServeHTTP serves the AWS Query APIs and the /_sim/ control endpoints.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim" {
		if !s.controlAllowed(r) {
			jsonError(w, http.StatusForbidden, "the control paths need this simulator's access key (SigV4) or its control token (Authorization: Bearer)")
			return
		}
		s.serveControl(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeEC2Error(w, "", &apiError{Status: 400, Code: "MalformedQueryString", Message: err.Error()})
		return
	}
	service, region, akid := credentialScope(r)
	if service == "" {
		service = "ec2"
	}
	if region == "" {
		region = "us-east-1"
	}
	action := r.Form.Get("Action")
	s.log.Debug("awssim request", "service", service, "region", region, "action", action)
	if service == "ec2" {
		if !s.keyAllowed(akid) {
			writeEC2Error(w, s.newRequestID(), &apiError{Status: http.StatusUnauthorized, Code: "AuthFailure",
				Message: "AWS was not able to validate the provided access credentials"})
			return
		}
		s.serveEC2(w, r, region, action, r.Form)
		return
	}
	if e := s.refuseKey(service, akid); e != nil {
		iamsim.WriteError(w, s.newRequestID(), e.Status, e.Code, e.Message)
		return
	}
	if service == "ssm" {
		s.serveSSM(w, r, region)
		return
	}
	s.mountMu.RLock()
	q := s.mounts[service]
	s.mountMu.RUnlock()
	if q == nil {
		writeEC2Error(w, s.newRequestID(), &apiError{Status: 400, Code: "InvalidAction",
			Message: fmt.Sprintf("The service %q is not simulated.", service)})
		return
	}
	if lat := s.latency(); lat > 0 {
		sleepCtx(r, lat)
	}
	// Buffer the mounted service's answer so that large ones get the same hold-back as
	// EC2's (see sdkRaceDelay).
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	q.ServeQuery(buf, r, service, region, akid, action, r.Form)
	if buf.body.Len() > sdkSafeResponseBytes {
		sleepCtx(r, sdkRaceDelay)
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.body.Len()))
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
}

// refuseKey is the error for a request to a mounted service (IAM, STS, …) signed with
// akid, nil if it may be served (see Options.AccessKeyIDs).
func (s *Sim) refuseKey(service, akid string) *apiError {
	switch {
	case len(s.accessKeys) == 0 || s.accessKeys[akid]:
		return nil
	case akid == "":
		return &apiError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken",
			Message: "Request is missing Authentication Token"}
	case service != "iam" && s.knownKey(akid):
		return nil
	case service == "iam" && s.knownKey(akid):
		return &apiError{Status: http.StatusForbidden, Code: "AccessDenied",
			Message: "This access key is not authorized to perform IAM actions in the simulator."}
	}
	return &apiError{Status: http.StatusForbidden, Code: "InvalidClientTokenId",
		Message: "The security token included in the request is invalid."}
}

// controlAllowed reports whether a /_sim/ control request may be served: always when no
// access keys are configured, else when it carries the control token as a bearer token
// or a SigV4 Authorization naming one of the configured keys.
func (s *Sim) controlAllowed(r *http.Request) bool {
	if len(s.accessKeys) == 0 {
		return true
	}
	a := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
		return s.controlToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.controlToken)) == 1
	}
	_, _, akid := credentialScope(r)
	return akid != "" && s.accessKeys[akid]
}

// keyAllowed reports whether an EC2 request signed with akid may be served.
func (s *Sim) keyAllowed(akid string) bool {
	if len(s.accessKeys) == 0 || s.accessKeys[akid] {
		return true
	}
	return akid != "" && s.knownKey(akid)
}

// knownKey reports whether a mounted service vouches for akid (see KeyKnower).
func (s *Sim) knownKey(akid string) bool {
	s.mountMu.RLock()
	defer s.mountMu.RUnlock()
	for _, q := range s.mounts {
		if k, ok := q.(KeyKnower); ok && k.KnowsKey(akid) {
			return true
		}
	}
	return false
}

// profileKeeper is the mounted service that keeps instance profiles (see ProfileKeeper),
// nil if none does.
func (s *Sim) profileKeeper() ProfileKeeper {
	s.mountMu.RLock()
	defer s.mountMu.RUnlock()
	for _, q := range s.mounts {
		if k, ok := q.(ProfileKeeper); ok {
			return k
		}
	}
	return nil
}

// AddInstanceProfile creates an IAM instance profile named name in the mounted IAM
// simulator (an existing one is kept), so RunInstances accepts it, and returns its ARN;
// "" when no mounted service keeps instance profiles.
func (s *Sim) AddInstanceProfile(name string) (arn string) {
	if k := s.profileKeeper(); k != nil {
		return k.AddInstanceProfile(name)
	}
	return ""
}

// bufferedResponse collects a response so it can be inspected before it is sent.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

// credentialScope extracts service, region and access key id from a SigV4 Authorization
// header (or presigned query). Signatures are never verified: with Options.AccessKeyIDs
// empty any credentials work.
func credentialScope(r *http.Request) (service, region, akid string) {
	cred := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	} else if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		cred = c
	}
	parts := strings.Split(cred, "/")
	if len(parts) >= 5 {
		return parts[3], parts[2], parts[0]
	}
	return "", "", ""
}

func (s *Sim) newRequestID() string {
	n := s.reqCounter.Add(1)
	a, b := hash64("req", fmt.Sprint(n)), mix64(n)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff,
		uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// nextCounter returns a fresh number for deriving a resource id. Callers hold s.mu.
func (s *Sim) nextCounter() uint64 {
	s.counter++
	return s.counter
}

// newID makes a unique AWS-shaped id such as "i-0abc…" from the simulator's counter.
// Callers hold s.mu.
func (s *Sim) newID(prefix string) string {
	return prefix + "-" + hex17(mix64(s.nextCounter()^hash64(prefix)))
}

func sleepCtx(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
