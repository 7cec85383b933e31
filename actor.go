package tollgate

import "strconv"

// Daemon subsystems that act by themselves, as audit actors.
const (
	SysReconcile = "reconcile" // settles launches and actions, adopts tagged instances
	SysReaper    = "reaper"    // ends expired leases
	SysBudget    = "budget"    // enforces spent budgets
	SysCollector = "collector" // snapshots the account
	SysIAM       = "iam"       // settles interrupted IAM identity changes
	SysBalancer  = "balancer"  // the load-driven worker pool
	SysRegions   = "regions"   // per-region service instances
)

// DaemonActorName is the audit actor name of everything the daemon does by itself; the
// subsystem is recorded beside it.
const DaemonActorName = "tollgated"

// Actor is who did something: a user by uid (and name, when the name service knows it)
// or a named subsystem of the daemon. The zero Actor is the daemon with no subsystem.
type Actor struct {
	UID    int    // the peer uid; -1 for the daemon
	Name   string // the user's name ("" when NSS knows none)
	System string // the subsystem for the daemon's own actions ("" for a user)
}

// UserActor is the user with uid and name.
func UserActor(uid int, name string) Actor { return Actor{UID: uid, Name: name} }

// SystemActor is the daemon's subsystem sys (one of the Sys constants).
func SystemActor(sys string) Actor { return Actor{UID: -1, System: sys} }

// IsSystem reports whether a is the daemon itself rather than a user.
func (a Actor) IsSystem() bool { return a.System != "" || (a.Name == "" && a.UID < 0) }

// AuditName is the name the audit log records: the user's name, "uid:N" for a peer with
// no name, or "tollgated" for the daemon.
func (a Actor) AuditName() string {
	switch {
	case a.IsSystem():
		return DaemonActorName
	case a.Name != "":
		return a.Name
	default:
		return "uid:" + strconv.Itoa(a.UID)
	}
}

// AuditUID is the uid the audit log records: -1 for the daemon.
func (a Actor) AuditUID() int {
	if a.IsSystem() {
		return -1
	}
	return a.UID
}

// String is AuditName, with the subsystem for the daemon ("tollgated/reaper").
func (a Actor) String() string {
	if a.IsSystem() && a.System != "" {
		return DaemonActorName + "/" + a.System
	}
	return a.AuditName()
}

// Purpose is why an instance exists; it decides which rules govern it. Users' instances
// have leases and budgets; the balancer's and the regional services' follow their own.
type Purpose string

// Purposes.
const (
	PurposeUser     Purpose = "user"     // launched by a user through the gate
	PurposeBalancer Purpose = "balancer" // a worker of the load-driven pool
	PurposeService  Purpose = "service"  // a per-region service instance
)

// Valid reports whether p is one of the purposes above.
func (p Purpose) Valid() bool {
	return p == PurposeUser || p == PurposeBalancer || p == PurposeService
}

// PurposeOf reads a purpose as stored or tagged: "" is a user's (instances and launches
// recorded before purposes existed).
func PurposeOf(s string) Purpose {
	if s == "" {
		return PurposeUser
	}
	return Purpose(s)
}
