package awssim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// serveControl serves the JSON control endpoints under /_sim/, used by scripts and tests
// to drive the clock, read ground truth and set faults:
//
//	GET  /_sim/clock            {"now":RFC3339,"mode":"manual"|"real"}
//	POST /_sim/clock/advance    {"seconds":N} or {"duration":"1h30m"}
//	GET  /_sim/ledger           Ledger
//	GET  /_sim/faults           Faults
//	POST /_sim/faults           Faults (replaces the knobs)
//	GET  /_sim/instances        []Instance (?region=)
//	POST /_sim/forget           {"id":"i-…"}
//	POST /_sim/instance-profiles {"name":"…"} → {"arn":"…"} (see AddInstanceProfile)
//
// With Options.AccessKeyIDs set, ServeHTTP serves these only to a request with a SigV4
// Authorization naming one of those keys or "Authorization: Bearer" with
// Options.ControlToken, and answers anything else 403.
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/clock" && r.Method == http.MethodGet:
		s.writeClock(w)
	case r.URL.Path == "/_sim/clock/advance" && r.Method == http.MethodPost:
		var req struct {
			Seconds  float64 `json:"seconds"`
			Duration string  `json:"duration"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			jsonError(w, http.StatusBadRequest, "bad JSON: %v", err)
			return
		}
		d := time.Duration(req.Seconds * float64(time.Second))
		if req.Duration != "" {
			dd, err := time.ParseDuration(req.Duration)
			if err != nil {
				jsonError(w, http.StatusBadRequest, "bad duration: %v", err)
				return
			}
			d += dd
		}
		if d < 0 {
			jsonError(w, http.StatusBadRequest, "the clock only moves forward")
			return
		}
		s.Advance(d)
		s.writeClock(w)
	case r.URL.Path == "/_sim/ledger" && r.Method == http.MethodGet:
		writeJSON(w, s.Ledger())
	case r.URL.Path == "/_sim/faults" && r.Method == http.MethodGet:
		writeJSON(w, s.CurrentFaults())
	case r.URL.Path == "/_sim/faults" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			jsonError(w, http.StatusBadRequest, "bad faults JSON: %v", err)
			return
		}
		s.SetFaults(f)
		writeJSON(w, s.CurrentFaults())
	case r.URL.Path == "/_sim/instances" && r.Method == http.MethodGet:
		writeJSON(w, s.Instances(r.URL.Query().Get("region")))
	case r.URL.Path == "/_sim/forget" && r.Method == http.MethodPost:
		var req struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
			jsonError(w, http.StatusBadRequest, "want {\"id\":\"i-...\"}")
			return
		}
		s.Forget(req.ID)
		writeJSON(w, map[string]string{"forgotten": req.ID})
	case r.URL.Path == "/_sim/spot-price" && r.Method == http.MethodPost:
		var req struct {
			Region string  `json:"region"`
			AZ     string  `json:"az"`
			Type   string  `json:"type"`
			Price  float64 `json:"price"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Region == "" || req.Type == "" || req.Price <= 0 {
			jsonError(w, http.StatusBadRequest, "want {\"region\":\"…\",\"az\":\"\" (every zone) or a zone,\"type\":\"…\",\"price\":USD/h > 0}")
			return
		}
		s.SetSpotPrice(req.Region, req.AZ, req.Type, req.Price)
		writeJSON(w, req)
	case r.URL.Path == "/_sim/interrupt" && r.Method == http.MethodPost:
		var req struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
			jsonError(w, http.StatusBadRequest, "want {\"id\":\"i-...\"}")
			return
		}
		if err := s.InterruptSpot(req.ID); err != nil {
			jsonError(w, http.StatusConflict, "%v", err)
			return
		}
		writeJSON(w, map[string]string{"interrupted": req.ID})
	case r.URL.Path == "/_sim/snapshots" && r.Method == http.MethodPost:
		var req struct {
			Region  string `json:"region"`
			SizeGiB int    `json:"size_gib"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Region == "" || req.SizeGiB < 1 {
			jsonError(w, http.StatusBadRequest, "want {\"region\":\"…\",\"size_gib\":N}")
			return
		}
		id := s.AddSnapshot(req.Region, req.SizeGiB, nil)
		if id == "" {
			jsonError(w, http.StatusBadRequest, "region %q is not simulated", req.Region)
			return
		}
		writeJSON(w, map[string]string{"snapshot_id": id})
	case r.URL.Path == "/_sim/instance-profiles" && r.Method == http.MethodPost:
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
			jsonError(w, http.StatusBadRequest, "want {\"name\":\"…\"}")
			return
		}
		arn := s.AddInstanceProfile(req.Name)
		if arn == "" {
			jsonError(w, http.StatusNotImplemented, "no mounted service keeps instance profiles")
			return
		}
		writeJSON(w, map[string]string{"arn": arn})
	default:
		jsonError(w, http.StatusNotFound, "no control endpoint %s %s", r.Method, r.URL.Path)
	}
}

func (s *Sim) writeClock(w http.ResponseWriter) {
	mode := "real"
	if s.manual {
		mode = "manual"
	}
	writeJSON(w, map[string]string{"now": s.Now().Format(time.RFC3339), "mode": mode})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func jsonError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}
