package accounting

// Log attribute keys: constant, so logs can be queried by key.
const (
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
