package iamsim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
)

// user is one IAM user and everything that can hang off it.
type user struct {
	name     string
	path     string
	id       string
	created  time.Time
	tags     map[string]string
	boundary string            // ARN of the permissions boundary policy, "" for none
	inline   map[string]string // policy name → document
	attached map[string]bool   // policy ARN
	groups   map[string]bool   // lower-cased group name
	login    *loginProfile
	keys     []*accessKey          // in creation order
	mfa      map[string]*mfaDevice // serial number → device enabled for this user
	// creds are the SSH public keys, signing certificates and service-specific
	// credentials, by kind, each in creation order.
	creds [numCredKinds][]*credential
}

func (u *user) arn() string { return "arn:aws:iam::" + Account + ":user" + u.path + u.name }

type loginProfile struct {
	created       time.Time
	resetRequired bool
}

type group struct {
	name    string
	path    string
	id      string
	created time.Time
	members map[string]bool // lower-cased user name
}

func (g *group) arn() string { return "arn:aws:iam::" + Account + ":group" + g.path + g.name }

// accessKey is one access key; the secret is kept only so the simulator can hand it out
// once, as IAM does.
type accessKey struct {
	id      string
	secret  string
	user    string // lower-cased user name
	status  string // Active | Inactive
	created time.Time
}

// newID returns an IAM-style unique id with prefix (AIDA users, AGPA groups, AKIA keys).
// Ids grow monotonically so that sorting them sorts by creation.
func (s *Sim) newID(prefix string) string {
	s.counter++
	return fmt.Sprintf("%sSIM%013d", prefix, s.counter)
}

// newSecret returns 40 random characters, like an AWS secret access key, so a test that
// greps for a leaked secret cannot match by accident.
func (s *Sim) newSecret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Sim) user(c *call, param string) (*user, *apiError) {
	name, err := requireName(c, param)
	if err != nil {
		return nil, err
	}
	u := s.users[strings.ToLower(name)]
	if u == nil {
		return nil, noSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (s *Sim) group(c *call) (*group, *apiError) {
	name, err := requireName(c, "GroupName")
	if err != nil {
		return nil, err
	}
	g := s.groups[strings.ToLower(name)]
	if g == nil {
		return nil, noSuchEntity("The group with name %s cannot be found.", name)
	}
	return g, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
