// Package integration holds tollgate's end-to-end tests: they build the real tollgate and
// tollgated binaries, run `tollgated sim` and `tollgated serve` as separate processes,
// and drive the CLI as separate processes — under real Unix users' own uids when the
// tests run as root, so the kernel's peer credentials, not anything the client says,
// decide who may see and touch which instance.
package integration
