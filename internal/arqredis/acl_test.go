package arqredis

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// goRedisMethods maps the go-redis methods this package calls to the
// commands they send (none: no command of their own).
var goRedisMethods = map[string][]string{
	"ClientID": {"client|id"}, "ConfigGet": {"config|get"}, "DBSize": {"dbsize"}, "Del": {"del"},
	"Do": nil, "Exists": {"exists"}, "Get": {"get"}, "Info": {"info"}, "MGet": {"mget"},
	"PExpire": {"pexpire"}, "PTTL": {"pttl"}, "Ping": {"ping"}, "Pipelined": nil, "Process": nil,
	"ReceiveTimeout": nil, "Scan": {"scan"}, "Set": {"set"}, "SetEx": {"setex"}, "Subscribe": {"subscribe"},
	"Time": {"time"}, "TxPipelined": {"multi", "exec"}, "Watch": {"watch", "unwatch"},
	"ZAdd": {"zadd"}, "ZCard": {"zcard"}, "ZCount": {"zcount"}, "ZIncrBy": {"zincrby"}, "ZRange": {"zrange"},
	"ZRangeArgsWithScores": {"zrange"}, "ZRangeByScoreWithScores": {"zrangebyscore"}, "ZRangeWithScores": {"zrange"},
	"ZRem": {"zrem"}, "ZRemRangeByScore": {"zremrangebyscore"}, "ZScore": {"zscore"},
	"Close": nil, "Options": nil, "Val": nil, "Err": nil, "Result": nil, // a reply's accessors (c is also a Cmd)
}

// scriptMethods are the redis.Script methods and what they send.
var scriptMethods = map[string][]string{"Run": {"evalsha", "eval"}, "EvalSha": {"evalsha"}, "Load": {"script|load"}}

// goRedisReceivers are how this package's code names go-redis clients,
// pipelines, transactions and connections.
var goRedisReceivers = []string{"r.c", "c", "p", "pipe", "tx", "cn", "ps", "w.rc"}

// doctorOnly are commands no role needs: those only `goarq doctor` sends,
// each optional (doctor reports what it could not read), and PTTL, which
// the history recorder (no role of its own) also sends.
var doctorOnly = []string{"pttl", "time", "config|get", "acl|whoami", "acl|dryrun"}

var luaCall = regexp.MustCompile(`(?:redis\.p?call|\bcall)\('([A-Za-z]+)'`) // scripts may alias redis.call as call

// parseSources parses this package's non-test Go files.
func parseSources(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, f := range names {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	return fset, files
}

// sentCommands reads this package's source and returns every command it
// sends: go-redis method calls, Do and NewCmd with a literal command name,
// and the redis.call of its Lua scripts.
func sentCommands(t *testing.T) map[string]string {
	t.Helper()
	fset, files := parseSources(t)
	sent := map[string]string{}
	for _, file := range files {
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					for _, m := range luaCall.FindAllStringSubmatch(n.Value, -1) {
						sent[strings.ToLower(m[1])] = fset.Position(n.Pos()).String()
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				recv := exprString(sel.X)
				pos := fset.Position(n.Pos()).String()
				name := sel.Sel.Name
				switch {
				case name == "NewCmd" && recv == "redis" || name == "Do" && slices.Contains(goRedisReceivers, recv):
					argv := literalArgs(n.Args[1:])
					if len(argv) > 0 {
						sent[aclCommandName(argv)] = pos
					}
				case slices.Contains(goRedisReceivers, recv):
					cmds, known := goRedisMethods[name]
					if !known {
						t.Errorf("%s: %s.%s: add the go-redis method to goRedisMethods with the commands it sends", pos, recv, name)
					}
					for _, c := range cmds {
						sent[c] = pos
					}
				case strings.HasSuffix(recv, "Script") || recv == "s":
					for _, c := range scriptMethods[name] {
						sent[c] = pos
					}
				}
			}
			return true
		})
	}
	return sent
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return ""
}

// literalArgs are the leading string literals of args, upper-cased; args
// of the form append([]any{"CLIENT", ...}, more...)... are read from the
// slice's literal.
func literalArgs(args []ast.Expr) []string {
	if len(args) == 1 {
		if call, ok := args[0].(*ast.CallExpr); ok && exprString(call.Fun) == "append" && len(call.Args) > 0 {
			if lit, ok := call.Args[0].(*ast.CompositeLit); ok {
				args = lit.Elts
			}
		}
	}
	var out []string
	for _, a := range args {
		lit, ok := a.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			break
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			break
		}
		out = append(out, strings.ToUpper(s))
	}
	return out
}

// Every command this package sends is in some role's rule (or is one of
// doctor's optional reads), and every command of the table is sent here
// (or by go-redis's connection set-up): the table cannot drift from the
// code.
func TestACLTableCoversEveryCommandSent(t *testing.T) {
	sent := sentCommands(t)
	if len(sent) < 30 {
		t.Fatalf("found only %d commands: the scan is broken: %v", len(sent), sent)
	}
	inTable := map[string]bool{}
	for _, u := range aclUses {
		inTable[aclCommandName(u.argv)] = true
	}
	for c, pos := range sent {
		if !inTable[c] && !slices.Contains(doctorOnly, c) {
			t.Errorf("%s: %s is sent but in no role of aclUses", pos, c)
		}
	}
	setup := []string{"hello", "select"} // go-redis's connection set-up
	for c := range inTable {
		if _, ok := sent[c]; !ok && !slices.Contains(setup, c) {
			t.Errorf("%s is in aclUses but this package never sends it", c)
		}
	}
}

func TestRoleRule(t *testing.T) {
	r, err := RoleRule(RoleExporter, []string{"jobs*"})
	if err != nil {
		t.Fatal(err)
	}
	s := r.String()
	for _, want := range []string{"-@all ", `"%R~jobs\\*"`, `"%R~jobs\\*:health-check"`, `"%R~goarq:worker:jobs\\*:*"`, "+scan", "resetchannels"} {
		if !strings.Contains(s, want) {
			t.Errorf("exporter rule lacks %q: %s", want, s)
		}
	}
	for _, deny := range []string{"+del", "+zadd", "+eval", " ~", "&"} {
		if strings.Contains(s, deny) {
			t.Errorf("read-only exporter rule has %q: %s", deny, s)
		}
	}
	if got := r.SetUser("u", `p w"x\`); !strings.HasPrefix(got, `ACL SETUSER u reset on ">p w\"x\\" -@all `) {
		t.Errorf("SetUser does not quote the password for redis-cli: %s", got)
	}
	if _, err := RoleRule(RoleWorker, []string{"my queue"}); err == nil {
		t.Error("a queue with a space accepted: Redis refuses such a key pattern")
	}
	if _, err := RoleRule("admin", []string{"q"}); err == nil {
		t.Error("unknown role accepted")
	}
	w, _ := RoleRule(RoleWorker, []string{"q1", "q2"})
	for _, want := range []string{"~q1", "~q2", "~q2:health-check", "&__redis__:invalidate", "+client|tracking"} {
		if !slices.Contains(w.Keys, want) && !slices.Contains(w.Channels, want) && !slices.Contains(w.Commands, strings.TrimPrefix(want, "+")) {
			t.Errorf("worker rule for two queues lacks %q: %s", want, w)
		}
	}
}

// The table's where column names RDB methods that exist, so that a reader
// can go from a rule's command to the code that sends it.
func TestACLTableNamesExistingMethods(t *testing.T) {
	_, files := parseSources(t)
	methods := map[string]bool{}
	for _, file := range files {
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil {
				methods[fn.Name.Name] = true
			}
		}
	}
	named := regexp.MustCompile(`RDB\.([A-Za-z]+)`)
	for _, u := range aclUses {
		for _, m := range named.FindAllStringSubmatch(u.where, -1) {
			if !methods[m[1]] {
				t.Errorf("%v: where names RDB.%s, which does not exist", u.argv, m[1])
			}
		}
	}
}
