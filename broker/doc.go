// Package broker is tollgated's side of the socket API: peer credentials, enrolment,
// admission, the crash-safe launch, reconcile and audit. The wire types, error codes and
// the Go client the tollgate CLI uses live in broker/api, shared by both ends so the CLI
// and the daemon cannot drift.
package broker
