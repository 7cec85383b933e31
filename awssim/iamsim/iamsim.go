// Package iamsim simulates the parts of AWS IAM and STS that tollgate uses, mounted into
// awssim so the real SDK clients are exercised over HTTP. It is stateful (users, groups,
// inline and attached policies, login profiles, access keys, virtual MFA devices, SSH
// public keys, signing certificates, service-specific credentials, instance profiles),
// answers with IAM's own error codes (NoSuchEntity, EntityAlreadyExists, LimitExceeded,
// DeleteConflict), pages with Marker/IsTruncated, and models IAM's eventual consistency: STS accepts a new access
// key only after a propagation delay measured on the simulator's clock.
package iamsim

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Account is the simulated account id; every ARN carries it.
const Account = "123456789012"

// Sim is the IAM and STS state of one simulated account. It is safe for concurrent use.
type Sim struct {
	now func() time.Time

	mu          sync.Mutex
	users       map[string]*user  // by lower-cased name: IAM names are case-insensitive
	groups      map[string]*group // by lower-cased name
	keys        map[string]*accessKey
	mfa         map[string]*mfaDevice       // virtual MFA devices by serial number (an account's, not a user's)
	profiles    map[string]*instanceProfile // by lower-cased name
	issued      map[string]bool             // every access key id ever created here, deleted ones too
	propagation time.Duration
	counter     uint64
}

// New returns an empty account whose timestamps come from now.
func New(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	return &Sim{
		now:      now,
		users:    map[string]*user{},
		groups:   map[string]*group{},
		keys:     map[string]*accessKey{},
		mfa:      map[string]*mfaDevice{},
		profiles: map[string]*instanceProfile{},
		issued:   map[string]bool{},
	}
}

// SetPropagationDelay makes STS refuse an access key created here until d has passed on
// the simulator's clock, as AWS does for a few seconds after CreateAccessKey.
func (s *Sim) SetPropagationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.propagation = d
}

// ServeHTTP serves IAM and STS on their own, for tests that do not need the rest of
// awssim: it parses the form, reads the SigV4 credential scope and calls ServeQuery.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, "", &apiError{status: 400, code: "MalformedQueryString", msg: err.Error()})
		return
	}
	service, region, akid := credentialScope(r)
	if service == "" {
		service = "iam"
	}
	s.ServeQuery(w, r, service, region, akid, r.Form.Get("Action"), r.Form)
}

// ServeQuery serves one IAM or STS Query-protocol request. accessKeyID is the caller's
// key from the SigV4 scope: STS answers for it, and CreateAccessKey without a UserName
// acts on its owner.
func (s *Sim) ServeQuery(w http.ResponseWriter, r *http.Request, service, region, accessKeyID, action string, form url.Values) {
	var h handler
	var ns string
	switch service {
	case "sts":
		h, ns = stsActions[action], stsNamespace
	default:
		h, ns = iamActions[action], iamNamespace
	}
	now := s.now().UTC() // before taking mu: the clock may be awssim's, with its own lock
	s.mu.Lock()
	s.counter++
	reqID := requestID(s.counter)
	var res any
	var err *apiError
	if h == nil {
		err = &apiError{status: 400, code: "InvalidAction", msg: "The action " + action + " is not valid for this web service."}
	} else {
		// The result is built under the lock (it reads the state); it is written after.
		res, err = h(s, &call{form: form, caller: accessKeyID, now: now})
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, reqID, err)
		return
	}
	writeResult(w, ns, action, reqID, res)
}

// call is one request's input.
type call struct {
	form   url.Values
	caller string // access key id of the caller
	now    time.Time
}

// handler runs one action under s.mu; it returns the <ActionResult> body (nil for none).
type handler func(s *Sim, c *call) (any, *apiError)

// credentialScope extracts service, region and access key id from a SigV4 Authorization
// header. Signatures are never verified.
func credentialScope(r *http.Request) (service, region, akid string) {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Credential=")
	if i < 0 {
		return "", "", ""
	}
	cred := a[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return "", "", ""
	}
	return parts[3], parts[2], parts[0]
}
