package iamsim

import (
	"strconv"
	"strings"
)

// maxKeysPerUser is IAM's hard limit on access keys per user.
const maxKeysPerUser = 2

var stsActions = map[string]handler{
	"GetCallerIdentity": (*Sim).getCallerIdentity,
}

type xmlAccessKey struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

func itoa(i int) string { return strconv.Itoa(i) }

// keyOwner resolves the UserName of an action where it is optional (access keys, MFA
// devices, signing certificates, service-specific credentials); without one IAM acts on
// the caller's own user.
func (s *Sim) keyOwner(c *call) (*user, *apiError) {
	if c.form.Get("UserName") != "" {
		return s.user(c, "UserName")
	}
	if k := s.keys[c.caller]; k != nil {
		return s.users[k.user], nil
	}
	return nil, validation("Must specify userName when calling with non-User credentials")
}

func (s *Sim) createAccessKey(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	if len(u.keys) >= maxKeysPerUser {
		return nil, &apiError{status: 409, code: "LimitExceeded", msg: "Cannot exceed quota for AccessKeysPerUser: 2"}
	}
	k := &accessKey{id: s.newID("AKIA"), secret: s.newSecret(), user: strings.ToLower(u.name), status: "Active", created: c.now}
	u.keys = append(u.keys, k)
	s.keys[k.id] = k
	s.issued[k.id] = true
	return struct {
		AccessKey xmlAccessKey `xml:"AccessKey"`
	}{xmlAccessKey{u.name, k.id, k.status, k.secret, isoTime(k.created)}}, nil
}

func (s *Sim) listAccessKeys(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(u.keys))
	for i, k := range u.keys {
		ids[i] = k.id // ids grow monotonically: creation order is sorted order
	}
	return listing(c, "AccessKeyMetadata", ids, func(i int) xmlAccessKey {
		k := u.keys[i]
		return xmlAccessKey{UserName: u.name, AccessKeyID: k.id, Status: k.status, CreateDate: isoTime(k.created)}
	})
}

// ownedKey finds AccessKeyId among u's keys.
func (s *Sim) ownedKey(c *call, u *user) (*accessKey, int, *apiError) {
	id := c.form.Get("AccessKeyId")
	for i, k := range u.keys {
		if k.id == id {
			return k, i, nil
		}
	}
	return nil, 0, noSuchEntity("The Access Key with id %s cannot be found.", id)
}

func (s *Sim) updateAccessKey(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	k, _, err := s.ownedKey(c, u)
	if err != nil {
		return nil, err
	}
	switch st := c.form.Get("Status"); st {
	case "Active", "Inactive":
		k.status = st
	default:
		return nil, validation("Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", st)
	}
	return nil, nil
}

func (s *Sim) deleteAccessKey(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	k, i, err := s.ownedKey(c, u)
	if err != nil {
		return nil, err
	}
	u.keys = append(u.keys[:i], u.keys[i+1:]...)
	delete(s.keys, k.id)
	return nil, nil
}

// getCallerIdentity answers for the calling key: a key created here identifies its IAM
// user once it has propagated and while it is active; a key never created here is the
// account's own (root or daemon) credentials.
func (s *Sim) getCallerIdentity(c *call) (any, *apiError) {
	type result struct {
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
		Arn     string `xml:"Arn"`
	}
	invalid := &apiError{status: 403, code: "InvalidClientTokenId", msg: "The security token included in the request is invalid."}
	if !s.issued[c.caller] {
		return result{Account, Account, "arn:aws:iam::" + Account + ":root"}, nil
	}
	k := s.keys[c.caller]
	if k == nil || k.status != "Active" || c.now.Before(k.created.Add(s.propagation)) {
		return nil, invalid
	}
	u := s.users[k.user]
	return result{u.id, Account, u.arn()}, nil
}

// KnowsKey reports whether accessKeyID is an active key issued here that has propagated,
// so awssim's EC2 accepts calls signed with it even when restricted to the daemon's key
// (a student's own `tollgate keys aws` key works for Describe calls, as on AWS).
func (s *Sim) KnowsKey(accessKeyID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[accessKeyID]
	return k != nil && k.status == "Active" && !s.now().Before(k.created.Add(s.propagation))
}
