// Package broker is tollgate's socket API: the server side run by tollgated (peer
// credentials, enrolment, admission, the crash-safe launch, reconcile, audit) and the Go
// client used by the tollgate CLI. Both share the request and response types in api.go,
// so the CLI and the daemon cannot drift.
package broker
