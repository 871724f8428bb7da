package doctor

import "github.com/goarq/goarq/internal/arqredis"

// Roles are the roles `goarq acl` prints rules for: worker, producer,
// dashboard, dashboard-read-only, exporter.
func Roles() []string {
	rs := arqredis.Roles()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// ACLRule is the least-privilege Redis ACL rule of one role on some
// queues: exactly the commands, key patterns and channels goarq sends for
// that role (Redis 7.0+).
type ACLRule struct {
	Role     string
	Commands []string // ACL command names: "zadd", "client|tracking"
	Keys     []string // "~pattern" (read and write) or "%R~pattern" (read only)
	Channels []string // "&channel"
	r        arqredis.ACLRule
}

// RoleRule builds role's rule for queues (at least one).
func RoleRule(role string, queues []string) (ACLRule, error) {
	r, err := arqredis.RoleRule(arqredis.Role(role), queues)
	if err != nil {
		return ACLRule{}, err
	}
	return ACLRule{Role: role, Commands: r.Commands, Keys: r.Keys, Channels: r.Channels, r: r}, nil
}

// String is the rule's body, from -@all on.
func (r ACLRule) String() string { return r.r.String() }

// SetUser is the ACL SETUSER line for user with password, quoted as
// redis-cli reads it, starting with reset so that the user has exactly
// this rule.
func (r ACLRule) SetUser(user, password string) string { return r.r.SetUser(user, password) }
