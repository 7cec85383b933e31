package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/quota"
)

// Request body limits: every schema is small except a launch's user-data (16 KiB raw,
// about 22 KiB once base64-encoded in JSON).
const (
	maxBody       = 64 << 10
	maxLaunchBody = maxBody + 2*quota.MaxUserData
)

// handlerFunc serves one path for an identified caller and returns the response value.
type handlerFunc func(ctx context.Context, c *caller, r *http.Request) (any, error)

// access says who may call a path.
type access int

const (
	anyone   access = iota // whoami: even callers who are not enrolled
	enrolled               // ordinary user requests
	admin                  // /v1/admin/*
)

// routes builds the mux: every path of api.go, each with its method and access level.
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(method, path string, acc access, fn handlerFunc) {
		mux.Handle(method+" "+path, d.wrap(acc, fn))
	}
	// long serves requests that may legitimately outlast the server's WriteTimeout.
	long := func(method, path string, acc access, fn handlerFunc) {
		mux.Handle(method+" "+path, longWrite(d.wrap(acc, fn)))
	}
	h(http.MethodGet, api.PathWhoAmI, anyone, d.handleWhoAmI)
	long(http.MethodPost, api.PathLaunch, enrolled, d.handleLaunch)
	h(http.MethodGet, api.PathInstances, enrolled, d.handleInstances)
	h(http.MethodPost, api.PathStop, enrolled, d.actionHandler("stop", false))
	h(http.MethodPost, api.PathStart, enrolled, d.actionHandler("start", false))
	h(http.MethodPost, api.PathTerminate, enrolled, d.actionHandler("terminate", false))
	h(http.MethodPost, api.PathExtend, enrolled, d.handleExtend)
	h(http.MethodGet, api.PathQuota, enrolled, d.handleQuota)
	h(http.MethodGet, api.PathUsage, enrolled, d.handleUsage)
	h(http.MethodGet, api.PathNotices, anyone, d.handleNotices)
	h(http.MethodPost, api.PathKeysSSH, enrolled, d.handleKeysSSH)
	long(http.MethodPost, api.PathKeysAWS, enrolled, d.handleKeysAWS)

	h(http.MethodGet, api.PathAdminUsers, admin, d.handleUsers)
	h(http.MethodPost, api.PathAdminUsersAdd, admin, d.forgetsUsers(d.handleUsersAdd))
	h(http.MethodPost, api.PathAdminUsersImport, admin, d.forgetsUsers(d.handleUsersImport))
	h(http.MethodPost, api.PathAdminUsersSet, admin, d.forgetsUsers(d.handleUsersSet))
	h(http.MethodPost, api.PathAdminUsersDisable, admin, d.forgetsUsers(d.handleUsersDisable))
	h(http.MethodPost, api.PathAdminUsersRemove, admin, d.forgetsUsers(d.handleUsersRemove))
	h(http.MethodGet, api.PathAdminInstances, admin, d.handleAdminInstances)
	h(http.MethodPost, api.PathAdminTerminate, admin, d.actionHandler("terminate", true))
	h(http.MethodGet, api.PathAdminAudit, admin, d.handleAudit)
	long(http.MethodPost, api.PathAdminCollect, admin, d.handleCollect)
	long(http.MethodPost, api.PathAdminReport, admin, d.handleReport)
	h(http.MethodGet, api.PathAdminIAM, admin, d.handleIAMList)
	long(http.MethodPost, api.PathAdminIAMRevoke, admin, d.handleIAMRevoke)
	long(http.MethodPost, api.PathAdminReconcile, admin, d.handleReconcile)
	h(http.MethodGet, api.PathAdminBalancer, admin, d.handlePools)
	h(http.MethodGet, api.PathAdminBalancerStatus, admin, d.handlePoolStatus)
	h(http.MethodPost, api.PathAdminBalancerPause, admin, d.poolAction("balancer.pause", func(b Balancer) poolFn { return b.Pause }))
	h(http.MethodPost, api.PathAdminBalancerResume, admin, d.poolAction("balancer.resume", func(b Balancer) poolFn { return b.Resume }))
	h(http.MethodPost, api.PathAdminBalancerDrain, admin, d.poolAction("balancer.drain", func(b Balancer) poolFn { return b.Drain }))
	h(http.MethodPost, api.PathAdminBalancerSet, admin, d.handlePoolSet)
	h(http.MethodGet, api.PathAdminRegionsCheck, admin, d.handleRegionsCheck)
	h(http.MethodGet, api.PathAdminRegionsRuns, admin, d.handleRegionsRuns)
	regions := func(path string, fn handlerFunc) {
		mux.Handle(http.MethodPost+" "+path, veryLongWrite(d.wrap(admin, fn)))
	}
	regions(api.PathAdminRegionsSetup, d.handleRegionsSetup)
	regions(api.PathAdminRegionsUpdate, d.handleRegionsUpdate)
	regions(api.PathAdminRegionsClear, d.handleRegionsClear)
	regions(api.PathAdminRegionsRun, d.handleRegionsRun)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &tollgate.Error{Code: tollgate.CodeNotFound, Message: fmt.Sprintf("no such request: %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// forgetsUsers wraps a handler that writes the users table: the cached users rows are
// dropped once it is done, so a disable or an override takes effect at the next request.
func (d *Daemon) forgetsUsers(fn handlerFunc) handlerFunc {
	return func(ctx context.Context, c *caller, r *http.Request) (any, error) {
		defer d.userRows.forget("")
		return fn(ctx, c, r)
	}
}

// longWrite extends the connection's write deadline to longWriteTimeout for one request:
// a launch may wait on IAM propagation for about a minute, and admin collect or report
// page through every region.
func longWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Wall time on purpose: this is a socket deadline, not a decision.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(longWriteTimeout))
		next.ServeHTTP(w, r)
	})
}

// wrap identifies the caller from the connection's peer credentials, checks access, adds
// the notices header, and writes the result or the error as JSON.
func (d *Daemon) wrap(acc access, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		cred, ok := credFrom(ctx)
		if !ok {
			writeError(w, &tollgate.Error{Code: tollgate.CodeInternal, Message: "connection without peer credentials"})
			return
		}
		uid := int(cred.Uid)
		if d.hooks != nil && d.hooks.PeerUID != nil {
			uid = d.hooks.PeerUID(uid)
		}
		c, err := d.identify(ctx, uid)
		if err != nil {
			d.log.Error("identify caller", logUID, cred.Uid, logErr, err)
			writeError(w, &tollgate.Error{Code: tollgate.CodeInternal, Message: "cannot resolve your identity; see the daemon's log"})
			return
		}
		// Mutations are rate limited before anything else, so a loop of refused
		// requests is limited too.
		if r.Method != http.MethodGet && !c.Admin {
			if e := d.limiter.allow(d.log, c.UID); e != nil {
				err = e
			}
		}
		if err == nil {
			err = d.checkAccess(ctx, c, acc, r.Method == http.MethodGet)
		}
		var out any
		if err == nil {
			out, err = fn(ctx, c, r)
		}
		if c.Name != "" {
			if n, nerr := d.unreadNotices(ctx, c); nerr == nil {
				w.Header().Set(api.HeaderNotices, strconv.Itoa(n))
			}
		}
		if err != nil {
			writeError(w, d.publicError(r, c, err))
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// checkAccess refuses c a path of access level acc it may not use. A read-only request
// (readOnly) never needs a write to be served.
func (d *Daemon) checkAccess(ctx context.Context, c *caller, acc access, readOnly bool) error {
	switch acc {
	case enrolled:
		return d.requireEnrolled(ctx, c, readOnly)
	case admin:
		if !c.Admin {
			return &tollgate.Error{Code: tollgate.CodeForbidden, Message: fmt.Sprintf("%s is not a tollgate admin (admins are root and members of %s)",
				displayName(c), d.cfg.Broker.AdminGroup)}
		}
	}
	return nil
}

func displayName(c *caller) string {
	if c.Name != "" {
		return c.Name
	}
	return "uid " + strconv.Itoa(c.UID)
}

// publicError turns err into what the caller may see: a domain error (refusals unwrap
// to one) as it is, a database constraint as the domain error it means, anything else
// logged in full and reported as internal.
func (d *Daemon) publicError(r *http.Request, c *caller, err error) *tollgate.Error {
	var e *tollgate.Error
	if errors.As(d.db.Explain(err), &e) {
		if e.Code == tollgate.CodeUnavailable || e.Code == tollgate.CodeInternal {
			// The database cannot be written: the log says why, with the cause.
			d.log.Error("request failed", logPath, r.URL.Path, logUser, c.Name, "problem", e.Message, logErr, err)
		}
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &tollgate.Error{Code: tollgate.CodeUnavailable, Message: "request cancelled"}
	}
	d.log.Error("request failed", logPath, r.URL.Path, logUser, c.Name, logErr, err)
	return &tollgate.Error{Code: tollgate.CodeInternal, Message: "internal error; see the daemon's log"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&tollgate.Error{Code: tollgate.CodeInternal, Message: "encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *tollgate.Error) { writeJSON(w, api.Status(e), e) }

// decodeBody reads r's body as exactly one JSON object of v's closed schema.
func decodeBody(r *http.Request, v any, limit int64) error {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
		}
		return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "read request body: " + err.Error()}
	}
	return DecodeRequest(data, v)
}

// DecodeRequest decodes data as exactly one JSON object into v, refusing unknown fields,
// trailing data and anything but an object. An empty body decodes as {}. The error is a
// *Error with CodeInvalidRequest naming the problem.
func DecodeRequest(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if data[0] != '{' {
		return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "request body must be one JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "invalid request: " + jsonProblem(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "invalid request: data after the JSON object"}
	}
	return nil
}

// jsonProblem shortens encoding/json's messages to what a user can act on.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	}
	return err.Error()
}

// unreadNotices counts c's unread notices, and the admins' inbox for an admin.
func (d *Daemon) unreadNotices(ctx context.Context, c *caller) (int, error) {
	n, err := d.notices.UnreadNotices(ctx, c.Name)
	if err != nil || !c.Admin {
		return n, err
	}
	a, err := d.notices.UnreadNotices(ctx, enforce.AdminInbox)
	return n + a, err
}
