package awssim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AgentDelay is how long after an instance is running its SSM agent comes online.
const AgentDelay = 20 * time.Second

// CommandOutcome is what a command run through SSM does (set by tests with
// SetCommandOutcome): it runs for Duration, then ends with Status (Success or Failed)
// and ExitCode, having written Stdout and Stderr.
type CommandOutcome struct {
	Status   string        `json:"status"` // "" = Success with exit 0, Failed otherwise
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration"`
	Stdout   string        `json:"stdout"`
	Stderr   string        `json:"stderr"`
}

// ssmState is the simulated Systems Manager.
type ssmState struct {
	commands   map[string]*ssmCommand
	outcomes   map[string]CommandOutcome // by instance id, "" = every instance
	agentNever map[string]bool           // instance id ("*" = all): the agent never comes online
	commandSeq int
}

type ssmCommand struct {
	id, region, instance string
	seq                  int // order of sending
	commands             []string
	timeout              time.Duration
	requested            time.Time
	outcome              CommandOutcome
}

func (s *Sim) ssm() *ssmState {
	if s.ssmState == nil {
		s.ssmState = &ssmState{commands: map[string]*ssmCommand{}, outcomes: map[string]CommandOutcome{},
			agentNever: map[string]bool{}}
	}
	return s.ssmState
}

// SetCommandOutcome sets what commands sent to instance (or, with "", to any instance
// without an outcome of its own) do from now on.
func (s *Sim) SetCommandOutcome(instance string, o CommandOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssm().outcomes[instance] = o
}

// SetAgentNeverOnline makes instance's SSM agent (with "*", every instance's) never
// come online, or undoes it.
func (s *Sim) SetAgentNeverOnline(instance string, never bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if never {
		s.ssm().agentNever[instance] = true
	} else {
		delete(s.ssm().agentNever, instance)
	}
}

// runningSince is when in entered running for its current run, if it is running at now.
func (in *instance) runningSince(now time.Time) (time.Time, bool) {
	for i := len(in.events) - 1; i >= 0; i-- {
		e := in.events[i]
		if e.at.After(now) {
			continue
		}
		return e.at, e.state == StateRunning
	}
	return time.Time{}, false
}

func (s *Sim) agentOnline(in *instance, now time.Time) bool {
	st := s.ssm()
	if st.agentNever["*"] || st.agentNever[in.id] {
		return false
	}
	since, ok := in.runningSince(now)
	return ok && !now.Before(since.Add(AgentDelay))
}

type ssmError struct {
	status        int
	code, message string
}

// serveSSM serves Systems Manager's JSON 1.1 protocol (X-Amz-Target: AmazonSSM.Action).
func (s *Sim) serveSSM(w http.ResponseWriter, r *http.Request, region string) {
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var out any
	var e *ssmError
	if err != nil {
		e = &ssmError{400, "SerializationException", err.Error()}
	} else {
		out, e = s.applySSM(region, action, body)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", s.newRequestID())
	if e != nil {
		w.Header().Set("X-Amzn-Errortype", e.code)
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Sim) applySSM(region, action string, body []byte) (any, *ssmError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.regions[region] == nil {
		return nil, &ssmError{400, "UnrecognizedClientException", "region " + region + " is not simulated"}
	}
	now := s.Now()
	switch action {
	case "SendCommand":
		var req struct {
			DocumentName   string
			InstanceIds    []string
			Parameters     map[string][]string
			TimeoutSeconds int
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &ssmError{400, "SerializationException", err.Error()}
		}
		if req.DocumentName != "AWS-RunShellScript" {
			return nil, &ssmError{400, "InvalidDocument", "Document " + req.DocumentName + " does not exist in your account"}
		}
		if len(req.InstanceIds) != 1 {
			return nil, &ssmError{400, "InvalidInstanceId", "awssim sends to exactly one instance"}
		}
		id := req.InstanceIds[0]
		in := s.byID[id]
		if in == nil || in.region != region || !s.agentOnline(in, now) {
			return nil, &ssmError{400, "InvalidInstanceId", fmt.Sprintf("Instances [[%s]] not in a valid state for account %s", id, AccountID)}
		}
		timeout := time.Hour
		if v := req.Parameters["executionTimeout"]; len(v) == 1 {
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > 172800 {
				return nil, &ssmError{400, "InvalidParameters", "executionTimeout must be from 1 to 172800 seconds"}
			}
			timeout = time.Duration(n) * time.Second
		}
		st := s.ssm()
		o, ok := st.outcomes[id]
		if !ok {
			o, ok = st.outcomes[""]
		}
		if !ok {
			o = CommandOutcome{Duration: 10 * time.Second, Stdout: "ok\n"}
		}
		st.commandSeq++
		c := &ssmCommand{id: fmt.Sprintf("%08x-%04x-4000-8000-%012x", hash64("cmd", id)&0xffffffff, st.commandSeq, st.commandSeq),
			region: region, instance: id, seq: st.commandSeq, commands: req.Parameters["commands"], timeout: timeout, requested: now, outcome: o}
		st.commands[c.id] = c
		return map[string]any{"Command": map[string]any{"CommandId": c.id, "DocumentName": req.DocumentName,
			"InstanceIds": req.InstanceIds, "Status": "Pending", "RequestedDateTime": float64(now.Unix())}}, nil
	case "GetCommandInvocation":
		var req struct{ CommandId, InstanceId string }
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &ssmError{400, "SerializationException", err.Error()}
		}
		c := s.ssm().commands[req.CommandId]
		if c == nil || c.instance != req.InstanceId || c.region != region {
			return nil, &ssmError{400, "InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)"}
		}
		return s.invocation(c, now), nil
	case "ListCommandInvocations":
		return s.listCommandInvocations(region, body, now)
	case "DescribeInstanceInformation":
		var req struct {
			Filters []struct {
				Key    string
				Values []string
			}
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &ssmError{400, "SerializationException", err.Error()}
		}
		var ids []string
		for _, f := range req.Filters {
			if f.Key == "InstanceIds" {
				ids = append(ids, f.Values...)
			}
		}
		list := []map[string]any{}
		for _, id := range ids {
			if in := s.byID[id]; in != nil && in.region == region && s.agentOnline(in, now) {
				list = append(list, map[string]any{"InstanceId": id, "PingStatus": "Online", "PlatformType": "Linux"})
			}
		}
		return map[string]any{"InstanceInformationList": list}, nil
	}
	return nil, &ssmError{400, "InvalidAction", "awssim does not simulate SSM " + action}
}

// invocationState is one invocation's state at a moment.
type invocationState struct {
	status, details string
	code            int
	start, end      time.Time // end is zero until the command is done
	stdout, stderr  string    // set once done
}

// invocationState is c's state at now, from the simulated clock: in progress until its
// duration (or its timeout) has passed; cut short if the instance stopped meanwhile.
func (s *Sim) invocationState(c *ssmCommand, now time.Time) invocationState {
	start := c.requested.Add(time.Second)
	o := c.outcome
	end, status, code := start.Add(o.Duration), "Success", o.ExitCode
	if o.Status == "Failed" || o.ExitCode != 0 {
		status = "Failed"
	}
	if o.Duration > c.timeout {
		end, status, code = start.Add(c.timeout), "TimedOut", -1
	}
	st := invocationState{start: start, code: -1}
	in := s.byID[c.instance]
	if in != nil && now.Before(end) {
		if since, running := in.runningSince(now); !running || since.After(c.requested) {
			// The instance stopped (or restarted) under the command.
			st.status, st.details = "Failed", "Undeliverable"
			return st
		}
	}
	switch {
	case now.Before(start):
		st.status, st.details = "Pending", "Pending"
	case now.Before(end):
		st.status, st.details = "InProgress", "InProgress"
	default:
		st.status, st.details, st.code, st.end = status, status, code, end
		st.stdout, st.stderr = o.Stdout, o.Stderr
	}
	return st
}

// invocation is GetCommandInvocation's answer for c at now.
func (s *Sim) invocation(c *ssmCommand, now time.Time) map[string]any {
	st := s.invocationState(c, now)
	out := map[string]any{"CommandId": c.id, "InstanceId": c.instance, "DocumentName": "AWS-RunShellScript",
		"ExecutionStartDateTime": st.start.UTC().Format(time.RFC3339Nano),
		"Status":                 st.status, "StatusDetails": st.details, "ResponseCode": st.code}
	if !st.end.IsZero() {
		out["ExecutionEndDateTime"] = st.end.UTC().Format(time.RFC3339Nano)
		out["StandardOutputContent"] = truncate(st.stdout, 24000)
		out["StandardErrorContent"] = truncate(st.stderr, 24000)
	}
	return out
}

// listCommandInvocations answers ListCommandInvocations: the region's invocations,
// newest first, of one command and/or one instance (or all), MaxResults (1..50, default
// 50) at a time, with the plugin's output (truncated to 2,500 characters, as SSM does in
// this call) when Details is set. No filters are supported.
func (s *Sim) listCommandInvocations(region string, body []byte, now time.Time) (any, *ssmError) {
	var req struct {
		CommandId, InstanceId, NextToken string
		Details                          bool
		MaxResults                       *int
		Filters                          []struct{ Key string }
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &ssmError{400, "SerializationException", err.Error()}
	}
	if len(req.Filters) > 0 {
		return nil, &ssmError{400, "InvalidFilterKey", "awssim supports no ListCommandInvocations filters"}
	}
	max := 50
	if req.MaxResults != nil {
		if max = *req.MaxResults; max < 1 || max > 50 {
			return nil, &ssmError{400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", max)}
		}
	}
	var cmds []*ssmCommand
	for _, c := range s.ssm().commands {
		if c.region == region && (req.CommandId == "" || c.id == req.CommandId) && (req.InstanceId == "" || c.instance == req.InstanceId) {
			cmds = append(cmds, c)
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].seq > cmds[j].seq })
	from := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n < 1 || n > len(cmds) {
			return nil, &ssmError{400, "InvalidNextToken", "The specified token is not valid."}
		}
		from = n
	}
	to := min(from+max, len(cmds))
	list := []map[string]any{}
	for _, c := range cmds[from:to] {
		st := s.invocationState(c, now)
		inv := map[string]any{"CommandId": c.id, "InstanceId": c.instance, "DocumentName": "AWS-RunShellScript",
			"Status": st.status, "StatusDetails": st.details, "RequestedDateTime": float64(c.requested.Unix())}
		if req.Details {
			plugin := map[string]any{"Name": "aws:runShellScript", "Status": st.status, "StatusDetails": st.details,
				"ResponseCode": st.code, "ResponseStartDateTime": float64(st.start.Unix())}
			if !st.end.IsZero() {
				output := st.stdout
				if st.stderr != "" {
					output += "\n----------ERROR-------\n" + st.stderr
				}
				plugin["Output"] = truncate(output, 2500)
				plugin["ResponseFinishDateTime"] = float64(st.end.Unix())
			}
			inv["CommandPlugins"] = []map[string]any{plugin}
		}
		list = append(list, inv)
	}
	out := map[string]any{"CommandInvocations": list}
	if to < len(cmds) {
		out["NextToken"] = strconv.Itoa(to)
	}
	return out, nil
}

// truncate keeps the first n characters, as SSM does.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
