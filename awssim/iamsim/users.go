package iamsim

import (
	"net/url"
	"strings"
)

var iamActions = map[string]handler{
	"CreateUser":                      (*Sim).createUser,
	"GetUser":                         (*Sim).getUser,
	"PutUserPermissionsBoundary":      (*Sim).putUserPermissionsBoundary,
	"DeleteUserPermissionsBoundary":   (*Sim).deleteUserPermissionsBoundary,
	"ListUsers":                       (*Sim).listUsers,
	"DeleteUser":                      (*Sim).deleteUser,
	"PutUserPolicy":                   (*Sim).putUserPolicy,
	"GetUserPolicy":                   (*Sim).getUserPolicy,
	"DeleteUserPolicy":                (*Sim).deleteUserPolicy,
	"ListUserPolicies":                (*Sim).listUserPolicies,
	"AttachUserPolicy":                (*Sim).attachUserPolicy,
	"DetachUserPolicy":                (*Sim).detachUserPolicy,
	"ListAttachedUserPolicies":        (*Sim).listAttachedUserPolicies,
	"CreateGroup":                     (*Sim).createGroup,
	"AddUserToGroup":                  (*Sim).addUserToGroup,
	"RemoveUserFromGroup":             (*Sim).removeUserFromGroup,
	"ListGroupsForUser":               (*Sim).listGroupsForUser,
	"CreateLoginProfile":              (*Sim).createLoginProfile,
	"GetLoginProfile":                 (*Sim).getLoginProfile,
	"DeleteLoginProfile":              (*Sim).deleteLoginProfile,
	"CreateAccessKey":                 (*Sim).createAccessKey,
	"ListAccessKeys":                  (*Sim).listAccessKeys,
	"UpdateAccessKey":                 (*Sim).updateAccessKey,
	"DeleteAccessKey":                 (*Sim).deleteAccessKey,
	"CreateVirtualMFADevice":          (*Sim).createVirtualMFADevice,
	"EnableMFADevice":                 (*Sim).enableMFADevice,
	"ListMFADevices":                  (*Sim).listMFADevices,
	"DeactivateMFADevice":             (*Sim).deactivateMFADevice,
	"DeleteVirtualMFADevice":          (*Sim).deleteVirtualMFADevice,
	"UploadSSHPublicKey":              (*Sim).uploadSSHPublicKey,
	"ListSSHPublicKeys":               listCredentials(sshPublicKey, "SSHPublicKeys", (*credential).sshXML),
	"DeleteSSHPublicKey":              deleteCredential(sshPublicKey),
	"UploadSigningCertificate":        (*Sim).uploadSigningCertificate,
	"ListSigningCertificates":         listCredentials(signingCertificate, "Certificates", (*credential).certXML),
	"DeleteSigningCertificate":        deleteCredential(signingCertificate),
	"CreateServiceSpecificCredential": (*Sim).createServiceSpecificCredential,
	"ListServiceSpecificCredentials":  listCredentials(serviceCredential, "ServiceSpecificCredentials", (*credential).serviceXML),
	"DeleteServiceSpecificCredential": deleteCredential(serviceCredential),
	"CreateInstanceProfile":           (*Sim).createInstanceProfile,
	"GetInstanceProfile":              (*Sim).getInstanceProfile,
	"DeleteInstanceProfile":           (*Sim).deleteInstanceProfile,
	"ListInstanceProfiles":            (*Sim).listInstanceProfiles,
	"AddRoleToInstanceProfile":        (*Sim).addRoleToInstanceProfile,
	"RemoveRoleFromInstanceProfile":   (*Sim).removeRoleFromInstanceProfile,
}

// XML shapes of IAM results (element names as the SDK's deserializers expect).
type (
	xmlTag struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	xmlUser struct {
		Path                string       `xml:"Path"`
		UserName            string       `xml:"UserName"`
		UserID              string       `xml:"UserId"`
		Arn                 string       `xml:"Arn"`
		CreateDate          string       `xml:"CreateDate"`
		PermissionsBoundary *xmlBoundary `xml:"PermissionsBoundary,omitempty"`
		Tags                []xmlTag     `xml:"Tags>member,omitempty"`
	}
	xmlBoundary struct {
		PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
		PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
	}
	xmlGroup struct {
		Path       string `xml:"Path"`
		GroupName  string `xml:"GroupName"`
		GroupID    string `xml:"GroupId"`
		Arn        string `xml:"Arn"`
		CreateDate string `xml:"CreateDate"`
	}
	xmlAttached struct {
		PolicyName string `xml:"PolicyName"`
		PolicyArn  string `xml:"PolicyArn"`
	}
	xmlLoginProfile struct {
		UserName              string `xml:"UserName"`
		CreateDate            string `xml:"CreateDate"`
		PasswordResetRequired bool   `xml:"PasswordResetRequired"`
	}
)

func (u *user) xml() xmlUser {
	x := xmlUser{Path: u.path, UserName: u.name, UserID: u.id, Arn: u.arn(), CreateDate: isoTime(u.created)}
	if u.boundary != "" {
		x.PermissionsBoundary = &xmlBoundary{PermissionsBoundaryType: boundaryType, PermissionsBoundaryArn: u.boundary}
	}
	for _, k := range sortedKeys(u.tags) {
		x.Tags = append(x.Tags, xmlTag{k, u.tags[k]})
	}
	return x
}

func (g *group) xml() xmlGroup {
	return xmlGroup{Path: g.path, GroupName: g.name, GroupID: g.id, Arn: g.arn(), CreateDate: isoTime(g.created)}
}

// tags reads Tags.member.N.Key / .Value.
func tags(form url.Values) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		k := form.Get("Tags.member." + itoa(i) + ".Key")
		if k == "" {
			return out
		}
		out[k] = form.Get("Tags.member." + itoa(i) + ".Value")
	}
}

func (s *Sim) createUser(c *call) (any, *apiError) {
	name, err := requireName(c, "UserName")
	if err != nil {
		return nil, err
	}
	path, err := optionalPath(c, "Path", "/")
	if err != nil {
		return nil, err
	}
	boundary := c.form.Get("PermissionsBoundary")
	if boundary != "" {
		if err := checkPolicyARN(boundary); err != nil {
			return nil, err
		}
	}
	if s.users[strings.ToLower(name)] != nil {
		return nil, alreadyExists("User with name %s already exists.", name)
	}
	u := &user{name: name, path: path, id: s.newID("AIDA"), created: c.now, tags: tags(c.form), boundary: boundary,
		inline: map[string]string{}, attached: map[string]bool{}, groups: map[string]bool{}, mfa: map[string]*mfaDevice{}}
	s.users[strings.ToLower(name)] = u
	return struct {
		User xmlUser `xml:"User"`
	}{u.xml()}, nil
}

func (s *Sim) getUser(c *call) (any, *apiError) {
	var u *user
	if c.form.Get("UserName") == "" {
		// Without a name GetUser describes the caller.
		k := s.keys[c.caller]
		if k == nil {
			return nil, validation("Must specify userName when calling with non-User credentials")
		}
		u = s.users[k.user]
	} else {
		var err *apiError
		if u, err = s.user(c, "UserName"); err != nil {
			return nil, err
		}
	}
	return struct {
		User xmlUser `xml:"User"`
	}{u.xml()}, nil
}

func (s *Sim) listUsers(c *call) (any, *apiError) {
	prefix, err := optionalPath(c, "PathPrefix", "/")
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range sortedKeys(s.users) {
		if strings.HasPrefix(s.users[k].path, prefix) {
			keys = append(keys, k)
		}
	}
	return listing(c, "Users", keys, func(i int) xmlUser {
		x := s.users[keys[i]].xml()
		x.Tags, x.PermissionsBoundary = nil, nil // ListUsers returns neither, like IAM
		return x
	})
}

// deleteUser deletes a user that holds nothing IAM requires removed first; otherwise it
// answers DeleteConflict naming the first thing left, in IAM's words.
func (s *Sim) deleteUser(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	if err := u.deleteConflict(); err != nil {
		return nil, err
	}
	delete(s.users, strings.ToLower(u.name))
	return nil, nil
}

// deleteConflict is DeleteUser's refusal while u still has a login profile, access keys,
// MFA devices, signing certificates, SSH public keys, service-specific credentials,
// inline or attached policies or group memberships; nil when it has none.
func (u *user) deleteConflict() *apiError {
	switch {
	case u.login != nil:
		return deleteConflict("delete login profile")
	case len(u.keys) > 0:
		return deleteConflict("delete access keys")
	case len(u.mfa) > 0:
		return deleteConflict("delete MFA device")
	}
	for kind, crs := range u.creds {
		if len(crs) > 0 {
			return deleteConflict(credKinds[kind].conflict)
		}
	}
	switch {
	case len(u.inline) > 0:
		return deleteConflict("delete policies")
	case len(u.attached) > 0:
		return deleteConflict("detach all policies")
	case len(u.groups) > 0:
		return deleteConflict("remove users from group")
	}
	return nil
}

func (s *Sim) putUserPolicy(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	name, err := requireName(c, "PolicyName")
	if err != nil {
		return nil, err
	}
	doc := c.form.Get("PolicyDocument")
	if doc == "" {
		return nil, validation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if len(doc) > 2048 {
		return nil, &apiError{status: 409, code: "LimitExceeded", msg: "Maximum policy size of 2048 bytes exceeded for user " + u.name}
	}
	u.inline[name] = doc
	return nil, nil
}

func (s *Sim) getUserPolicy(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	name, err := requireName(c, "PolicyName")
	if err != nil {
		return nil, err
	}
	doc, ok := u.inline[name]
	if !ok {
		return nil, noSuchEntity("The user policy with name %s cannot be found.", name)
	}
	return struct {
		UserName       string `xml:"UserName"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	}{u.name, name, url.QueryEscape(doc)}, nil
}

func (s *Sim) deleteUserPolicy(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	name, err := requireName(c, "PolicyName")
	if err != nil {
		return nil, err
	}
	if _, ok := u.inline[name]; !ok {
		return nil, noSuchEntity("The user policy with name %s cannot be found.", name)
	}
	delete(u.inline, name)
	return nil, nil
}

func (s *Sim) listUserPolicies(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	keys := sortedKeys(u.inline)
	return listing(c, "PolicyNames", keys, func(i int) string { return keys[i] })
}

func (s *Sim) attachUserPolicy(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	arn := c.form.Get("PolicyArn")
	if err := checkPolicyARN(arn); err != nil {
		return nil, err
	}
	if len(u.attached) >= 20 && !u.attached[arn] {
		return nil, &apiError{status: 409, code: "LimitExceeded", msg: "Cannot exceed quota for PoliciesPerUser: 20"}
	}
	u.attached[arn] = true
	return nil, nil
}

func (s *Sim) detachUserPolicy(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	arn := c.form.Get("PolicyArn")
	if !u.attached[arn] {
		return nil, noSuchEntity("Policy %s was not found.", arn)
	}
	delete(u.attached, arn)
	return nil, nil
}

func (s *Sim) listAttachedUserPolicies(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	keys := sortedKeys(u.attached)
	return listing(c, "AttachedPolicies", keys, func(i int) xmlAttached {
		return xmlAttached{PolicyName: keys[i][strings.LastIndex(keys[i], "/")+1:], PolicyArn: keys[i]}
	})
}

func (s *Sim) createGroup(c *call) (any, *apiError) {
	name, err := requireName(c, "GroupName")
	if err != nil {
		return nil, err
	}
	path, err := optionalPath(c, "Path", "/")
	if err != nil {
		return nil, err
	}
	if s.groups[strings.ToLower(name)] != nil {
		return nil, alreadyExists("Group with name %s already exists.", name)
	}
	g := &group{name: name, path: path, id: s.newID("AGPA"), created: c.now, members: map[string]bool{}}
	s.groups[strings.ToLower(name)] = g
	return struct {
		Group xmlGroup `xml:"Group"`
	}{g.xml()}, nil
}

func (s *Sim) addUserToGroup(c *call) (any, *apiError) {
	g, err := s.group(c)
	if err != nil {
		return nil, err
	}
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	g.members[strings.ToLower(u.name)] = true
	u.groups[strings.ToLower(g.name)] = true
	return nil, nil
}

func (s *Sim) removeUserFromGroup(c *call) (any, *apiError) {
	g, err := s.group(c)
	if err != nil {
		return nil, err
	}
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	if !u.groups[strings.ToLower(g.name)] {
		return nil, noSuchEntity("User %s is not in group %s.", u.name, g.name)
	}
	delete(g.members, strings.ToLower(u.name))
	delete(u.groups, strings.ToLower(g.name))
	return nil, nil
}

func (s *Sim) listGroupsForUser(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	keys := sortedKeys(u.groups)
	return listing(c, "Groups", keys, func(i int) xmlGroup { return s.groups[keys[i]].xml() })
}

func (s *Sim) createLoginProfile(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	if c.form.Get("Password") == "" {
		return nil, validation("1 validation error detected: Value null at 'password' failed to satisfy constraint: Member must not be null")
	}
	if u.login != nil {
		return nil, alreadyExists("Login Profile for user %s already exists.", u.name)
	}
	u.login = &loginProfile{created: c.now, resetRequired: c.form.Get("PasswordResetRequired") == "true"}
	return struct {
		LoginProfile xmlLoginProfile `xml:"LoginProfile"`
	}{xmlLoginProfile{u.name, isoTime(c.now), u.login.resetRequired}}, nil
}

func (s *Sim) getLoginProfile(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	if u.login == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.name)
	}
	return struct {
		LoginProfile xmlLoginProfile `xml:"LoginProfile"`
	}{xmlLoginProfile{u.name, isoTime(u.login.created), u.login.resetRequired}}, nil
}

func (s *Sim) deleteLoginProfile(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	if u.login == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.name)
	}
	u.login = nil
	return nil, nil
}
