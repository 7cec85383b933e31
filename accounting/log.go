package accounting

// Log attribute keys: constant, so logs can be queried by key.
const (
	logKeyComponent = "component"
	logKeyRegion    = "region"
	logKeyError     = "error"
	logKeyInstances = "instances"
	logKeyRows      = "rows"
	logKeyUser      = "user"
	logKeyAction    = "action"
	logKeyKind      = "kind"
	logKeyCount     = "count"
	logKeyOK        = "ok"
)
