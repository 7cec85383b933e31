package api

import (
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/quota"
	"github.com/tollgate/tollgate/roster"
)

// DefaultSocket is where tollgated listens and the CLI connects unless told otherwise
// (broker.socket in the daemon's configuration, --socket or TOLLGATE_SOCKET for the
// CLI). It lives here, not in config, so the CLI does not link the configuration
// decoder; config.DefaultSocket must equal it (tested).
const DefaultSocket = "/run/tollgate/tollgate.sock"

// The socket API: HTTP/1.1 + JSON over the unix socket. Paths are versioned; a request
// body is one JSON object whose schema is closed (unknown fields are refused). Every
// response carries HeaderNotices with the caller's unread notice count.
const (
	PathWhoAmI    = "/v1/whoami"              // GET → WhoAmI
	PathLaunch    = "/v1/launch"              // POST LaunchRequest → LaunchResponse
	PathInstances = "/v1/instances"           // GET [?id=ID&id=ID] → InstanceList (the caller's own)
	PathStop      = "/v1/instances/stop"      // POST IDsRequest → ActionResponse
	PathStart     = "/v1/instances/start"     // POST IDsRequest → ActionResponse
	PathTerminate = "/v1/instances/terminate" // POST IDsRequest → ActionResponse
	PathExtend    = "/v1/instances/extend"    // POST ExtendRequest → Instance
	PathQuota     = "/v1/quota"               // GET → QuotaResponse
	PathUsage     = "/v1/usage"               // GET → tollgate.Usage
	PathNotices   = "/v1/notices"             // GET [?all=1] → NoticeList (marks them read)
	PathKeysSSH   = "/v1/keys/ssh"            // POST SSHKeyRequest → SSHKeyResponse
	PathKeysAWS   = "/v1/keys/aws"            // POST AWSKeyRequest → tollgate.Credentials

	PathAdminUsers        = "/v1/admin/users"               // GET → UserList
	PathAdminUsersAdd     = "/v1/admin/users/add"           // POST UsersAddRequest → UserList
	PathAdminUsersImport  = "/v1/admin/users/import"        // POST UsersImportRequest → UserList
	PathAdminUsersSet     = "/v1/admin/users/set"           // POST UserSetRequest → User
	PathAdminUsersDisable = "/v1/admin/users/disable"       // POST UserNameRequest → User
	PathAdminUsersRemove  = "/v1/admin/users/rm"            // POST UserNameRequest → Empty
	PathAdminInstances    = "/v1/admin/instances"           // GET [?owner=U&all=1] → InstanceList
	PathAdminTerminate    = "/v1/admin/instances/terminate" // POST IDsRequest → ActionResponse
	PathAdminAudit        = "/v1/admin/audit"               // GET [?actor=&action=&since=RFC3339&limit=N] → AuditList
	PathAdminCollect      = "/v1/admin/collect"             // POST → tollgate.CollectResult
	PathAdminReport       = "/v1/admin/report"              // POST tollgate.ReportRequest → tollgate.Report
	PathAdminIAM          = "/v1/admin/iam"                 // GET → IdentityList
	PathAdminIAMRevoke    = "/v1/admin/iam/revoke"          // POST IAMRevokeRequest → IAMRevokeResponse
	PathAdminReconcile    = "/v1/admin/reconcile"           // POST → ReconcileResult

	PathAdminBalancer       = "/v1/admin/balancer"        // GET → PoolList
	PathAdminBalancerStatus = "/v1/admin/balancer/status" // GET ?pool=NAME → tollgate.PoolStatus
	PathAdminBalancerPause  = "/v1/admin/balancer/pause"  // POST PoolRequest → tollgate.PoolStatus
	PathAdminBalancerResume = "/v1/admin/balancer/resume" // POST PoolRequest → tollgate.PoolStatus
	PathAdminBalancerDrain  = "/v1/admin/balancer/drain"  // POST PoolRequest → tollgate.PoolStatus
	PathAdminBalancerSet    = "/v1/admin/balancer/set"    // POST PoolSetRequest → tollgate.PoolStatus

	PathAdminRegionsCheck  = "/v1/admin/regions/check"  // GET ?service=NAME → RegionCheckList
	PathAdminRegionsRuns   = "/v1/admin/regions/runs"   // GET ?service=NAME[&limit=N] → ServiceRunList
	PathAdminRegionsSetup  = "/v1/admin/regions/setup"  // POST RegionsRequest → RegionSetupList
	PathAdminRegionsUpdate = "/v1/admin/regions/update" // POST RegionsRequest → RegionSetupList
	PathAdminRegionsClear  = "/v1/admin/regions/clear"  // POST RegionsRequest (one region) → Empty
	PathAdminRegionsRun    = "/v1/admin/regions/run"    // POST RegionsRequest → ServiceRunList
)

// HeaderNotices carries the caller's unread notice count on every response, so the CLI
// can print them at the next call without an extra round trip when there are none.
const HeaderNotices = "Tollgate-Notices"

// Empty is the response of requests that return nothing.
type Empty struct{}

// WhoAmI is who the daemon thinks the caller is (from the kernel's peer credentials).
type WhoAmI struct {
	User     string   `json:"user"`
	UID      int      `json:"uid"`
	Groups   []string `json:"groups"`
	Admin    bool     `json:"admin"`
	Enrolled bool     `json:"enrolled"`
	Disabled bool     `json:"disabled"`
	Version  string   `json:"version"`
}

// LaunchRequest is everything a user may choose for a launch; the rest comes from policy.
// Zero fields take the policy's defaults.
type LaunchRequest struct {
	Type     string `json:"type,omitempty"`
	Image    string `json:"image,omitempty"` // ami id or an exact image name allowed by policy
	Region   string `json:"region,omitempty"`
	Count    int    `json:"count,omitempty"`
	Name     string `json:"name,omitempty"`
	Lifetime string `json:"lifetime,omitempty"` // "4h", "90m"
	Spot     bool   `json:"spot,omitempty"`
	UserData []byte `json:"user_data,omitempty"` // base64 in JSON; ≤ 16 KiB
}

// LaunchResponse reports the launched instances.
type LaunchResponse struct {
	RequestID string     `json:"request_id"`
	Instances []Instance `json:"instances"`
}

// Instance is an instance as users and admins see it. Field names are a stable contract.
type Instance struct {
	ID         string    `json:"id"`
	Owner      string    `json:"owner"` // "" for untracked instances
	State      string    `json:"state"`
	Type       string    `json:"type"`
	Image      string    `json:"image"`
	Region     string    `json:"region"`
	Name       string    `json:"name"`
	LaunchedAt time.Time `json:"launched_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	PublicIP   string    `json:"public_ip"`
	PrivateIP  string    `json:"private_ip"`
	Spot       bool      `json:"spot"`
	CostUSD    float64   `json:"cost_usd"`
	RequestID  string    `json:"request_id,omitempty"`
	Tracked    bool      `json:"tracked"` // false: launched outside the gate
	Adopted    bool      `json:"adopted"` // found by reconcile rather than recorded at launch
	// Unverified: adopted with no launch record of tollgate's behind it, so the owner tag
	// (which anyone with the cloud account's credentials can write) is the only evidence
	// of whose it is. Its owner and the admins were told.
	Unverified bool   `json:"unverified,omitempty"`
	Purpose    string `json:"purpose,omitempty"` // user, balancer, service
}

// InstanceList is a listing.
type InstanceList struct {
	Instances []Instance `json:"instances"`
}

// IDsRequest names instances to act on.
type IDsRequest struct {
	IDs []string `json:"ids"`
}

// ActionResult is one instance's outcome; Error is set (and State empty) on failure.
type ActionResult struct {
	ID    string `json:"id"`
	State string `json:"state,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// ActionResponse reports a stop/start/terminate over several instances. The request
// fails as a whole (no partial action) if any id is unknown or not the caller's.
type ActionResponse struct {
	Results []ActionResult `json:"results"`
}

// ExtendRequest extends an instance's lease by Duration ("2h").
type ExtendRequest struct {
	ID       string `json:"id"`
	Duration string `json:"duration"`
}

// QuotaResponse is the caller's effective policy and what they use of it.
type QuotaResponse struct {
	User        string       `json:"user"`
	Policy      quota.Policy `json:"policy"`
	Usage       quota.Usage  `json:"usage"`
	PeriodStart time.Time    `json:"period_start"`
}

// NoticeList is a user's notices.
type NoticeList struct {
	Notices []tollgate.Notice `json:"notices"`
}

// SSHKeyRequest uploads the caller's SSH public key (authorized_keys format). Only a
// public key is ever sent; the private key never leaves the user's home.
type SSHKeyRequest struct {
	PublicKey string `json:"public_key"`
}

// SSHKeyResponse reports the key stored for the caller.
type SSHKeyResponse struct {
	User        string `json:"user"`
	KeyName     string `json:"key_name"` // the EC2 keypair name: the user name
	Fingerprint string `json:"fingerprint"`
}

// AWSKeyRequest asks for the caller's IAM access key, creating the identity if missing.
type AWSKeyRequest struct {
	Rotate bool `json:"rotate,omitempty"`
}

// User is an enrolled user as admins see it.
type User struct {
	Name   string `json:"name"`
	UID    int    `json:"uid"`
	Group  string `json:"group"`
	Source string `json:"source"` // admin | roster | group
	// EnrollGroup is the configured enrolment group the user is a member of now (a
	// group enrolment holds only while there is one).
	EnrollGroup string `json:"enroll_group,omitempty"`
	// Active is whether the user may use tollgate now: not disabled and, for a group
	// enrolment, still a member of an enrolment group.
	Active    bool           `json:"active"`
	Disabled  bool           `json:"disabled"`
	Override  quota.Override `json:"override"`
	CreatedAt time.Time      `json:"created_at"`
}

// UserList is a listing of users.
type UserList struct {
	Users []User `json:"users"`
}

// UsersAddRequest enrols users one by one.
type UsersAddRequest struct {
	Users []string `json:"users"`
	Group string   `json:"group,omitempty"`
}

// UsersImportRequest enrols a roster; nothing is imported if any entry is bad.
type UsersImportRequest struct {
	Entries []roster.Entry `json:"entries"`
}

// UserSetRequest changes a user's per-user override: Set fields overlay the current
// override, Clear names keys (e.g. "max_instances") to remove.
type UserSetRequest struct {
	User  string         `json:"user"`
	Set   quota.Override `json:"set"`
	Clear []string       `json:"clear,omitempty"`
}

// UserNameRequest names one user; Enable re-enables with users disable.
type UserNameRequest struct {
	User   string `json:"user"`
	Enable bool   `json:"enable,omitempty"`
}

// AuditList is a slice of the audit log, oldest first.
type AuditList struct {
	Entries []tollgate.AuditEntry `json:"entries"`
}

// IdentityList lists IAM identities.
type IdentityList struct {
	Identities []tollgate.Identity `json:"identities"`
}

// IAMRevokeRequest revokes one user's identity, or all of them (end of term).
type IAMRevokeRequest struct {
	User string `json:"user,omitempty"`
	All  bool   `json:"all,omitempty"`
}

// IAMRevokeResponse names the identities revoked and, for --all, those that could not
// be, with the step that failed (empty when all went).
type IAMRevokeResponse struct {
	Revoked  []string           `json:"revoked"`
	Failures []IAMRevokeFailure `json:"failures,omitempty"`
}

// IAMRevokeFailure is one IAM user a revoke --all could not revoke.
type IAMRevokeFailure struct {
	IAMUser string `json:"iam_user"`
	User    string `json:"user,omitempty"` // Unix user, "" when unknown
	Step    string `json:"step"`           // e.g. "list service_credentials", "delete user"
	Error   string `json:"error"`
}

// ReconcileResult reports one reconcile pass.
type ReconcileResult struct {
	Resolved []string   `json:"resolved"` // launch ids whose requested state was settled
	Adopted  []Instance `json:"adopted"`  // tollgate-tagged instances the database lacked
}

// PoolList is every balancer pool's status, by name.
type PoolList struct {
	Pools []tollgate.PoolStatus `json:"pools"`
}

// PoolRequest names a balancer pool (pause, resume, drain).
type PoolRequest struct {
	Pool string `json:"pool"`
}

// PoolSetRequest overrides a pool's load-table band with Min..Max for For (a duration
// such as "2h"); Clear removes the override instead.
type PoolSetRequest struct {
	Pool  string `json:"pool"`
	Min   int    `json:"min"`
	Max   int    `json:"max"`
	For   string `json:"for,omitempty"`
	Clear bool   `json:"clear,omitempty"`
}

// RegionsRequest names a regional service and, optionally, some of its regions.
type RegionsRequest struct {
	Service string   `json:"service"`
	Regions []string `json:"regions,omitempty"`
	// Wait (run only): answer when the runs have ended; without it the runs are started
	// and the answer is at once (an empty list).
	Wait bool `json:"wait,omitempty"`
}

// RegionCheckList is a service's regions as check sees them.
type RegionCheckList struct {
	Regions []tollgate.RegionCheck `json:"regions"`
}

// RegionSetupList is what setup or update did per region.
type RegionSetupList struct {
	Regions []tollgate.RegionSetup `json:"regions"`
}

// ServiceRunList is runs of a service, newest first.
type ServiceRunList struct {
	Runs []tollgate.ServiceRun `json:"runs"`
}
