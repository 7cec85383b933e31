package iamsim

import (
	"sort"
	"strings"
	"time"
)

// User is the ground truth about one simulated IAM user, for tests.
type User struct {
	Name             string
	Path             string
	ARN              string
	Tags             map[string]string
	Boundary         string            // permissions boundary policy ARN, "" for none
	InlinePolicies   map[string]string // name → document
	AttachedPolicies []string          // ARNs
	Groups           []string
	LoginProfile     bool
	Keys             []Key
	MFADevices       []string // serial numbers of the devices enabled for the user
	// SSHPublicKeys, SigningCertificates and ServiceSpecificCredentials are ids, oldest
	// first.
	SSHPublicKeys              []string
	SigningCertificates        []string
	ServiceSpecificCredentials []string
}

// Key is the ground truth about one access key (without its secret).
type Key struct {
	ID        string
	Status    string
	CreatedAt time.Time
}

// Users returns every user whose path starts with pathPrefix ("" or "/" for all), by name.
func (s *Sim) Users(pathPrefix string) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, k := range sortedKeys(s.users) {
		u := s.users[k]
		if !strings.HasPrefix(u.path, pathPrefix) {
			continue
		}
		x := User{Name: u.name, Path: u.path, ARN: u.arn(), Tags: map[string]string{}, Boundary: u.boundary,
			InlinePolicies: map[string]string{}, LoginProfile: u.login != nil}
		for k, v := range u.tags {
			x.Tags[k] = v
		}
		for k, v := range u.inline {
			x.InlinePolicies[k] = v
		}
		x.AttachedPolicies = sortedKeys(u.attached)
		for _, g := range sortedKeys(u.groups) {
			x.Groups = append(x.Groups, s.groups[g].name)
		}
		for _, k := range u.keys {
			x.Keys = append(x.Keys, Key{ID: k.id, Status: k.status, CreatedAt: k.created})
		}
		x.MFADevices = sortedKeys(u.mfa)
		_, x.SSHPublicKeys = u.credentials(sshPublicKey, nil)
		_, x.SigningCertificates = u.credentials(signingCertificate, nil)
		_, x.ServiceSpecificCredentials = u.credentials(serviceCredential, nil)
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupUser returns the ground truth about one user by name.
func (s *Sim) LookupUser(name string) (User, bool) {
	for _, u := range s.Users("") {
		if strings.EqualFold(u.Name, name) {
			return u, true
		}
	}
	return User{}, false
}

// VirtualMFADevices returns the serial numbers of every virtual MFA device in the account,
// assigned or not, sorted.
func (s *Sim) VirtualMFADevices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.mfa)
}
