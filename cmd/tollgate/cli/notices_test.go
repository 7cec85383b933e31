package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
)

// serveSocket serves h on a unix socket for the test's duration, standing in for the
// daemon where only the client side's behaviour is under test.
func serveSocket(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "t.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestUnreadNoticesShownAfterTheCommand(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var read atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathWhoAmI, func(w http.ResponseWriter, r *http.Request) {
		if !read.Load() {
			w.Header().Set(api.HeaderNotices, "1")
		}
		json.NewEncoder(w).Encode(api.WhoAmI{User: "alice", UID: 1001, Enrolled: true})
	})
	mux.HandleFunc("GET "+api.PathNotices, func(w http.ResponseWriter, r *http.Request) {
		read.Store(true)
		json.NewEncoder(w).Encode(api.NoticeList{Notices: []tollgate.Notice{
			{ID: 1, User: "alice", At: at, Kind: "lease_warning", Message: "i-1 expires in 15m\nextend it"},
		}})
	})
	sock := serveSocket(t, mux)

	code, stdout, stderr := runMain(t, "", "--socket", sock, "whoami")
	if code != ExitOK {
		t.Fatalf("whoami: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "alice (uid 1001)") {
		t.Errorf("stdout = %q, want the whoami output", stdout)
	}
	if !strings.Contains(stderr, "lease_warning: i-1 expires in 15m; extend it") {
		t.Errorf("stderr = %q, want the unread notice on one line", stderr)
	}
	if strings.Contains(stdout, "lease_warning") {
		t.Errorf("stdout = %q: notices belong on stderr", stdout)
	}

	_, _, stderr = runMain(t, "", "--socket", sock, "whoami")
	if strings.Contains(stderr, "lease_warning") {
		t.Errorf("second run stderr = %q, want no notice once read", stderr)
	}
}

func TestRefusalWithHint(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathLaunch, func(w http.ResponseWriter, r *http.Request) {
		e := &api.Error{Code: api.CodeQuotaExceeded, Message: "max_instances is 2: you have 2 non-terminated instances and asked for 1 more", Hint: "terminate one first"}
		w.WriteHeader(api.Status(e))
		json.NewEncoder(w).Encode(e)
	})
	sock := serveSocket(t, mux)
	code, stdout, stderr := runMain(t, "", "--socket", sock, "launch")
	if code != ExitFailure {
		t.Errorf("exit = %d, want 1", code)
	}
	want := "tollgate: max_instances is 2: you have 2 non-terminated instances and asked for 1 more\nhint: terminate one first\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing on a refusal", stdout)
	}
}
