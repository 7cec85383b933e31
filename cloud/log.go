package cloud

// Log attribute keys, constant so log queries keep working as the code changes.
const (
	logKeyComponent   = "component"
	logKeySource      = "credentials_source"
	logKeyAccessKeyID = "access_key_id" // the id only; the secret is never logged
	logKeyRegions     = "regions"
	logKeyRegion      = "region"
	logKeyEndpoint    = "endpoint"
	logKeyOp          = "op"
	logKeyCount       = "count"
	logKeyOwner       = "owner"
	logKeyToken       = "client_token"
	logKeyInstances   = "instances"
	logKeyError       = "error"
	logKeyElapsed     = "elapsed"
	logKeyKeyName     = "key_name"
	logKeyImage       = "image"
	logKeyDevice      = "device"
	logKeyEBS         = "ebs"
)
