// Package iamsim simulates the parts of AWS IAM and STS that tollgate uses, mounted into
// awssim so the real SDK clients are exercised over HTTP.
package iamsim

import (
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Sim is the IAM and STS state of one simulated account.
type Sim struct {
	mu  sync.Mutex
	now func() time.Time
}

// New returns an empty account whose timestamps come from now.
func New(now func() time.Time) *Sim { return &Sim{now: now} }

// ServeQuery serves one IAM or STS Query-protocol request.
func (s *Sim) ServeQuery(w http.ResponseWriter, r *http.Request, service, region, accessKeyID, action string, form url.Values) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not yet simulated</Message></Error><RequestId>0</RequestId></ErrorResponse>`))
}
