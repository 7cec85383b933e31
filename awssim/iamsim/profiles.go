package iamsim

import (
	"strings"
	"time"
)

// instanceProfile is one IAM instance profile: a container for (at most) one role that
// EC2 hands to an instance.
type instanceProfile struct {
	name    string
	path    string
	id      string
	created time.Time
	roles   []profileRole // IAM allows one; kept as a list to answer with its shape
}

// profileRole is a role added to an instance profile. iamsim does not model roles, so any
// valid role name is accepted and described with the id and date it was added under.
type profileRole struct {
	name  string
	id    string
	added time.Time
}

func (p *instanceProfile) arn() string {
	return "arn:aws:iam::" + Account + ":instance-profile" + p.path + p.name
}

// XML shapes of instance profile results.
type (
	xmlRole struct {
		Path       string `xml:"Path"`
		RoleName   string `xml:"RoleName"`
		RoleID     string `xml:"RoleId"`
		Arn        string `xml:"Arn"`
		CreateDate string `xml:"CreateDate"`
	}
	xmlInstanceProfile struct {
		Path                string    `xml:"Path"`
		InstanceProfileName string    `xml:"InstanceProfileName"`
		InstanceProfileID   string    `xml:"InstanceProfileId"`
		Arn                 string    `xml:"Arn"`
		CreateDate          string    `xml:"CreateDate"`
		Roles               []xmlRole `xml:"Roles>member"`
	}
)

func (p *instanceProfile) xml() xmlInstanceProfile {
	x := xmlInstanceProfile{Path: p.path, InstanceProfileName: p.name, InstanceProfileID: p.id, Arn: p.arn(),
		CreateDate: isoTime(p.created)}
	for _, r := range p.roles {
		x.Roles = append(x.Roles, xmlRole{Path: "/", RoleName: r.name, RoleID: r.id,
			Arn: "arn:aws:iam::" + Account + ":role/" + r.name, CreateDate: isoTime(r.added)})
	}
	return x
}

func (s *Sim) instanceProfile(c *call) (*instanceProfile, *apiError) {
	name, err := requireName(c, "InstanceProfileName")
	if err != nil {
		return nil, err
	}
	p := s.profiles[strings.ToLower(name)]
	if p == nil {
		return nil, noSuchEntity("Instance Profile %s cannot be found.", name)
	}
	return p, nil
}

func (s *Sim) createInstanceProfile(c *call) (any, *apiError) {
	name, err := requireName(c, "InstanceProfileName")
	if err != nil {
		return nil, err
	}
	path, err := optionalPath(c, "Path", "/")
	if err != nil {
		return nil, err
	}
	if s.profiles[strings.ToLower(name)] != nil {
		return nil, alreadyExists("Instance Profile %s already exists.", name)
	}
	p := s.addProfile(name, path, c.now)
	return struct {
		InstanceProfile xmlInstanceProfile `xml:"InstanceProfile"`
	}{p.xml()}, nil
}

// addProfile creates an instance profile; the caller holds s.mu and has checked the name.
func (s *Sim) addProfile(name, path string, now time.Time) *instanceProfile {
	p := &instanceProfile{name: name, path: path, id: s.newID("AIPA"), created: now}
	s.profiles[strings.ToLower(name)] = p
	return p
}

func (s *Sim) getInstanceProfile(c *call) (any, *apiError) {
	p, err := s.instanceProfile(c)
	if err != nil {
		return nil, err
	}
	return struct {
		InstanceProfile xmlInstanceProfile `xml:"InstanceProfile"`
	}{p.xml()}, nil
}

func (s *Sim) deleteInstanceProfile(c *call) (any, *apiError) {
	p, err := s.instanceProfile(c)
	if err != nil {
		return nil, err
	}
	if len(p.roles) > 0 {
		return nil, deleteConflict("remove roles from instance profile")
	}
	delete(s.profiles, strings.ToLower(p.name))
	return nil, nil
}

func (s *Sim) listInstanceProfiles(c *call) (any, *apiError) {
	prefix, err := optionalPath(c, "PathPrefix", "/")
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range sortedKeys(s.profiles) {
		if strings.HasPrefix(s.profiles[k].path, prefix) {
			keys = append(keys, k)
		}
	}
	return listing(c, "InstanceProfiles", keys, func(i int) xmlInstanceProfile { return s.profiles[keys[i]].xml() })
}

func (s *Sim) addRoleToInstanceProfile(c *call) (any, *apiError) {
	p, err := s.instanceProfile(c)
	if err != nil {
		return nil, err
	}
	role, err := requireName(c, "RoleName")
	if err != nil {
		return nil, err
	}
	if len(p.roles) > 0 {
		return nil, &apiError{status: 409, code: "LimitExceeded", msg: "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"}
	}
	p.roles = append(p.roles, profileRole{name: role, id: s.newID("AROA"), added: c.now})
	return nil, nil
}

func (s *Sim) removeRoleFromInstanceProfile(c *call) (any, *apiError) {
	p, err := s.instanceProfile(c)
	if err != nil {
		return nil, err
	}
	role, err := requireName(c, "RoleName")
	if err != nil {
		return nil, err
	}
	for i, r := range p.roles {
		if strings.EqualFold(r.name, role) {
			p.roles = append(p.roles[:i], p.roles[i+1:]...)
			return nil, nil
		}
	}
	return nil, noSuchEntity("The role with name %s cannot be found.", role)
}

// InstanceProfile looks up an instance profile by name, or by ARN when nameOrARN starts
// with "arn:" (the path must match too), and returns its ARN and InstanceProfileId; ok is
// false when there is none. EC2's RunInstances asks this (see awssim.ProfileKeeper).
func (s *Sim) InstanceProfile(nameOrARN string) (arn, id string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := nameOrARN
	if strings.HasPrefix(nameOrARN, "arn:") {
		name = nameOrARN[strings.LastIndex(nameOrARN, "/")+1:]
	}
	p := s.profiles[strings.ToLower(name)]
	if p == nil || (name != nameOrARN && p.arn() != nameOrARN) {
		return "", "", false
	}
	return p.arn(), p.id, true
}

// AddInstanceProfile creates an instance profile named name under path "/", as
// CreateInstanceProfile does, for tests and demos, and returns its ARN. An existing
// profile of that name is kept, and its ARN returned.
func (s *Sim) AddInstanceProfile(name string) (arn string) {
	now := s.now().UTC() // before taking mu: the clock may be awssim's, with its own lock
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.profiles[strings.ToLower(name)]
	if p == nil {
		p = s.addProfile(name, "/", now)
	}
	return p.arn()
}
