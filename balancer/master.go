package balancer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// tellMaster writes the renderfarm file with the ready, answering slaves (one URL per
// slave and port) when that set changed, then runs the reload command.
func (pr *poolRun) tellMaster(ctx context.Context, slaves []Slave) []string {
	pr.mu.Lock()
	var urls []string
	for _, sl := range slaves {
		h := pr.health[sl.ID]
		if sl.State != StateReady || h == nil || !h.answered {
			continue
		}
		ip := pr.ipOf(sl.ID)
		if ip == "" {
			continue
		}
		for _, port := range pr.cfg.Ports {
			urls = append(urls, "http://"+ipPort(ip, port))
		}
	}
	slices.Sort(urls)
	prev := pr.renderfarm
	pr.renderfarm = urls
	pr.mu.Unlock()
	if pr.cfg.RenderfarmFile == "" {
		return nil
	}
	changed, err := WriteRenderfarm(pr.cfg.RenderfarmFile, urls)
	if err != nil {
		return []string{"cannot write the renderfarm file: " + err.Error()}
	}
	if !changed {
		return nil
	}
	why := []string{fmt.Sprintf("renderfarm: %d renderer(s) (was %d)", len(urls), len(prev))}
	if len(pr.cfg.ReloadCommand) == 0 {
		return why
	}
	out, err := pr.s.o.Exec(ctx, pr.cfg.ReloadCommand)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		pr.s.log.Warn("reload command failed", logPool, pr.cfg.Name, logErr, err, "output", msg)
		return append(why, fmt.Sprintf("reload command %q failed: %v", pr.cfg.ReloadCommand[0], err))
	}
	return append(why, "master reloaded")
}

// ipOf is the address of instance id as last described (held under pr.mu).
func (pr *poolRun) ipOf(id string) string {
	if h := pr.health[id]; h != nil {
		return h.ip
	}
	return ""
}

func ipPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(port)
	}
	return ip + ":" + strconv.Itoa(port)
}
