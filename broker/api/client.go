package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/roster"
)

// Client talks to tollgated over its unix socket. The daemon identifies the caller by the
// kernel's peer credentials of this connection; the client sends no identity of its own.
type Client struct {
	socket string
	http   *http.Client
	// OnNotices, if set, is called with the caller's unread notice count whenever a
	// response reports some.
	OnNotices func(unread int)
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 4,
		// Below the daemon's per-uid cap (DefaultMaxConnsPerUID): a busy client queues
		// its requests instead of having connections refused.
		MaxConnsPerHost: 16,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}}
}

// Socket is the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// do sends one request. in == nil sends no body; out == nil discards the response.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := "http://tollgate" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Code: CodeUnavailable,
			Message: fmt.Sprintf("cannot reach tollgated at %s: %v", c.socket, unwrapNetErr(err)),
			Hint:    "is the daemon running? set --socket or TOLLGATE_SOCKET if it listens elsewhere"}
	}
	defer resp.Body.Close()
	if n, _ := strconv.Atoi(resp.Header.Get(HeaderNotices)); n > 0 && c.OnNotices != nil && path != PathNotices {
		c.OnNotices(n)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response from tollgated: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Code != "" {
			return &e
		}
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("tollgated answered %s", resp.Status)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response from tollgated: %w", err)
	}
	return nil
}

func unwrapNetErr(err error) error {
	var op *net.OpError
	for e := err; e != nil; {
		if o, ok := e.(*net.OpError); ok {
			op = o
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if op != nil && op.Err != nil {
		return op.Err
	}
	return err
}

// WhoAmI reports who the daemon thinks the caller is.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var out WhoAmI
	return out, c.do(ctx, http.MethodGet, PathWhoAmI, nil, nil, &out)
}

// Launch asks for instances.
func (c *Client) Launch(ctx context.Context, req LaunchRequest) (LaunchResponse, error) {
	var out LaunchResponse
	return out, c.do(ctx, http.MethodPost, PathLaunch, nil, req, &out)
}

// Instances lists the caller's instances, or only those named.
func (c *Client) Instances(ctx context.Context, ids ...string) ([]Instance, error) {
	q := url.Values{}
	for _, id := range ids {
		q.Add("id", id)
	}
	var out InstanceList
	return out.Instances, c.do(ctx, http.MethodGet, PathInstances, q, nil, &out)
}

// Stop stops the caller's instances.
func (c *Client) Stop(ctx context.Context, ids []string) (ActionResponse, error) {
	var out ActionResponse
	return out, c.do(ctx, http.MethodPost, PathStop, nil, IDsRequest{IDs: ids}, &out)
}

// Start starts the caller's stopped instances.
func (c *Client) Start(ctx context.Context, ids []string) (ActionResponse, error) {
	var out ActionResponse
	return out, c.do(ctx, http.MethodPost, PathStart, nil, IDsRequest{IDs: ids}, &out)
}

// Terminate terminates the caller's instances.
func (c *Client) Terminate(ctx context.Context, ids []string) (ActionResponse, error) {
	var out ActionResponse
	return out, c.do(ctx, http.MethodPost, PathTerminate, nil, IDsRequest{IDs: ids}, &out)
}

// Extend extends an instance's lease by d ("2h").
func (c *Client) Extend(ctx context.Context, id, d string) (Instance, error) {
	var out Instance
	return out, c.do(ctx, http.MethodPost, PathExtend, nil, ExtendRequest{ID: id, Duration: d}, &out)
}

// Quota reports the caller's effective policy and usage.
func (c *Client) Quota(ctx context.Context) (QuotaResponse, error) {
	var out QuotaResponse
	return out, c.do(ctx, http.MethodGet, PathQuota, nil, nil, &out)
}

// Usage reports the caller's spend this period.
func (c *Client) Usage(ctx context.Context) (tollgate.Usage, error) {
	var out tollgate.Usage
	return out, c.do(ctx, http.MethodGet, PathUsage, nil, nil, &out)
}

// Notices returns the caller's unread notices (all of them with all) and marks them read.
func (c *Client) Notices(ctx context.Context, all bool) ([]tollgate.Notice, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	var out NoticeList
	return out.Notices, c.do(ctx, http.MethodGet, PathNotices, q, nil, &out)
}

// UploadSSHKey stores the caller's SSH public key.
func (c *Client) UploadSSHKey(ctx context.Context, publicKey string) (SSHKeyResponse, error) {
	var out SSHKeyResponse
	return out, c.do(ctx, http.MethodPost, PathKeysSSH, nil, SSHKeyRequest{PublicKey: publicKey}, &out)
}

// AWSKey returns a new access key for the caller's IAM identity (created if missing).
// The secret is in the result only; it is shown once.
func (c *Client) AWSKey(ctx context.Context, rotate bool) (tollgate.Credentials, error) {
	var out tollgate.Credentials
	return out, c.do(ctx, http.MethodPost, PathKeysAWS, nil, AWSKeyRequest{Rotate: rotate}, &out)
}

// Users lists enrolled users (admin).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out UserList
	return out.Users, c.do(ctx, http.MethodGet, PathAdminUsers, nil, nil, &out)
}

// AddUsers enrols users (admin).
func (c *Client) AddUsers(ctx context.Context, req UsersAddRequest) ([]User, error) {
	var out UserList
	return out.Users, c.do(ctx, http.MethodPost, PathAdminUsersAdd, nil, req, &out)
}

// ImportUsers enrols a roster, all or nothing (admin).
func (c *Client) ImportUsers(ctx context.Context, entries []roster.Entry) ([]User, error) {
	var out UserList
	return out.Users, c.do(ctx, http.MethodPost, PathAdminUsersImport, nil, UsersImportRequest{Entries: entries}, &out)
}

// SetUser changes a user's per-user policy override (admin).
func (c *Client) SetUser(ctx context.Context, req UserSetRequest) (User, error) {
	var out User
	return out, c.do(ctx, http.MethodPost, PathAdminUsersSet, nil, req, &out)
}

// DisableUser disables (or with enable, re-enables) a user (admin).
func (c *Client) DisableUser(ctx context.Context, user string, enable bool) (User, error) {
	var out User
	return out, c.do(ctx, http.MethodPost, PathAdminUsersDisable, nil, UserNameRequest{User: user, Enable: enable}, &out)
}

// RemoveUser removes a user's enrolment (admin).
func (c *Client) RemoveUser(ctx context.Context, user string) error {
	return c.do(ctx, http.MethodPost, PathAdminUsersRemove, nil, UserNameRequest{User: user}, nil)
}

// AdminInstances lists everyone's instances (admin); owner filters, all includes
// terminated ones.
func (c *Client) AdminInstances(ctx context.Context, owner string, all bool) ([]Instance, error) {
	return c.AdminInstancesWhere(ctx, AdminInstancesQuery{Owner: owner, All: all})
}

// AdminInstancesQuery selects instances for an admin listing.
type AdminInstancesQuery struct {
	Owner   string // only this owner's
	All     bool   // terminated ones too
	Adopted bool   // only instances adopted by reconcile (see Instance.Unverified)
}

// AdminInstancesWhere lists the instances q selects (admin).
func (c *Client) AdminInstancesWhere(ctx context.Context, aq AdminInstancesQuery) ([]Instance, error) {
	q := url.Values{}
	if aq.Owner != "" {
		q.Set("owner", aq.Owner)
	}
	if aq.All {
		q.Set("all", "1")
	}
	if aq.Adopted {
		q.Set("adopted", "1")
	}
	var out InstanceList
	return out.Instances, c.do(ctx, http.MethodGet, PathAdminInstances, q, nil, &out)
}

// AdminTerminate terminates anyone's instances (admin).
func (c *Client) AdminTerminate(ctx context.Context, ids []string) (ActionResponse, error) {
	var out ActionResponse
	return out, c.do(ctx, http.MethodPost, PathAdminTerminate, nil, IDsRequest{IDs: ids}, &out)
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	Actor  string
	Action string
	Since  time.Time
	Limit  int
}

// Audit reads the audit log (admin).
func (c *Client) Audit(ctx context.Context, aq AuditQuery) ([]tollgate.AuditEntry, error) {
	q := url.Values{}
	if aq.Actor != "" {
		q.Set("actor", aq.Actor)
	}
	if aq.Action != "" {
		q.Set("action", aq.Action)
	}
	if !aq.Since.IsZero() {
		q.Set("since", aq.Since.UTC().Format(time.RFC3339))
	}
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	var out AuditList
	return out.Entries, c.do(ctx, http.MethodGet, PathAdminAudit, q, nil, &out)
}

// Collect runs one collector pass now (admin).
func (c *Client) Collect(ctx context.Context) (tollgate.CollectResult, error) {
	var out tollgate.CollectResult
	return out, c.do(ctx, http.MethodPost, PathAdminCollect, nil, nil, &out)
}

// Report builds a spend report (admin).
func (c *Client) Report(ctx context.Context, req tollgate.ReportRequest) (tollgate.Report, error) {
	var out tollgate.Report
	return out, c.do(ctx, http.MethodPost, PathAdminReport, nil, req, &out)
}

// IAMIdentities lists IAM identities (admin).
func (c *Client) IAMIdentities(ctx context.Context) ([]tollgate.Identity, error) {
	var out IdentityList
	return out.Identities, c.do(ctx, http.MethodGet, PathAdminIAM, nil, nil, &out)
}

// IAMRevoke revokes one identity or all (admin).
func (c *Client) IAMRevoke(ctx context.Context, req IAMRevokeRequest) (IAMRevokeResponse, error) {
	var out IAMRevokeResponse
	return out, c.do(ctx, http.MethodPost, PathAdminIAMRevoke, nil, req, &out)
}

// Reconcile runs one reconcile pass now (admin).
func (c *Client) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var out ReconcileResult
	return out, c.do(ctx, http.MethodPost, PathAdminReconcile, nil, nil, &out)
}

// Pools lists the balancer pools with their status.
func (c *Client) Pools(ctx context.Context) ([]tollgate.PoolStatus, error) {
	var out PoolList
	err := c.do(ctx, http.MethodGet, PathAdminBalancer, nil, nil, &out)
	return out.Pools, err
}

// PoolStatus is one balancer pool's status.
func (c *Client) PoolStatus(ctx context.Context, pool string) (tollgate.PoolStatus, error) {
	var out tollgate.PoolStatus
	err := c.do(ctx, http.MethodGet, PathAdminBalancerStatus, url.Values{"pool": {pool}}, nil, &out)
	return out, err
}

// PoolAction pauses, resumes or drains a pool: path is PathAdminBalancerPause, Resume or
// Drain.
func (c *Client) PoolAction(ctx context.Context, path, pool string) (tollgate.PoolStatus, error) {
	var out tollgate.PoolStatus
	err := c.do(ctx, http.MethodPost, path, nil, PoolRequest{Pool: pool}, &out)
	return out, err
}

// PoolSet overrides (or clears) a pool's min/max band.
func (c *Client) PoolSet(ctx context.Context, req PoolSetRequest) (tollgate.PoolStatus, error) {
	var out tollgate.PoolStatus
	err := c.do(ctx, http.MethodPost, PathAdminBalancerSet, nil, req, &out)
	return out, err
}

// RegionsCheck checks every region of a service.
func (c *Client) RegionsCheck(ctx context.Context, service string) ([]tollgate.RegionCheck, error) {
	var out RegionCheckList
	err := c.do(ctx, http.MethodGet, PathAdminRegionsCheck, url.Values{"service": {service}}, nil, &out)
	return out.Regions, err
}

// RegionsRuns lists a service's runs, newest first (limit 0 = the daemon's default).
func (c *Client) RegionsRuns(ctx context.Context, service string, limit int) ([]tollgate.ServiceRun, error) {
	q := url.Values{"service": {service}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out ServiceRunList
	err := c.do(ctx, http.MethodGet, PathAdminRegionsRuns, q, nil, &out)
	return out.Runs, err
}

// RegionsSetup sets a service up (path PathAdminRegionsSetup) or updates it
// (PathAdminRegionsUpdate).
func (c *Client) RegionsSetup(ctx context.Context, path string, req RegionsRequest) ([]tollgate.RegionSetup, error) {
	var out RegionSetupList
	err := c.do(ctx, http.MethodPost, path, nil, req, &out)
	return out.Regions, err
}

// RegionsClear removes a service from one region.
func (c *Client) RegionsClear(ctx context.Context, service, region string) error {
	return c.do(ctx, http.MethodPost, PathAdminRegionsClear, nil, RegionsRequest{Service: service, Regions: []string{region}}, nil)
}

// RegionsRun runs a service's job now in its regions (or those named) and returns the
// runs when they have ended.
func (c *Client) RegionsRun(ctx context.Context, req RegionsRequest) ([]tollgate.ServiceRun, error) {
	var out ServiceRunList
	err := c.do(ctx, http.MethodPost, PathAdminRegionsRun, nil, req, &out)
	return out.Runs, err
}
