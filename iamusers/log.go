package iamusers

// Log attribute keys, constant so log queries keep working. There is deliberately no key
// for a secret.
const (
	logUser     = "user"
	logIAMUser  = "iam_user"
	logKeyID    = "access_key_id"
	logAttempt  = "attempt"
	logElapsed  = "elapsed"
	logErr      = "error"
	logState    = "state"
	logDeleted  = "deleted_keys"
	logRestored = "restored_keys"
	logBoundary = "permissions_boundary"
	logPrevious = "previous"
	logStep     = "step"
)
