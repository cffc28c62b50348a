package ruletest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/rules"
	"go.yaml.in/yaml/v3"
)

// Suite is one parsed test file: the config it tests and its cases.
type Suite struct {
	// Path is the test file, as given to ParseFile.
	Path string
	// Config is the path of the config under test: the file's config key
	// resolved against the test file's directory, or the sibling config
	// named by dropping "_test" from the file name.
	Config string
	// Vars are the file's top-level vars: values that stand in for the
	// config's secrets (vars_from and EVENTROUTER_VARS_*), which rule tests
	// never read, and overrides of its other vars, for every case. A case's
	// own vars are merged over them.
	Vars map[string]any
	// Plugins names the plugins beyond the built-in ones that the config
	// needs (the file's plugins key). A run whose registry lacks one
	// skips the file, naming the missing plugin, instead of failing to
	// compile the config: a config written for a custom build does not
	// break the stock binary's "eventrouter test".
	Plugins []string
	// Tests are the cases in file order.
	Tests []Case
}

// Case is one row of a rule-test table: an event, the context it arrives
// in, and what the rules must make of it. The zero value of every field but
// Name, Event.On and Expect is a sensible default.
type Case struct {
	// Name identifies the case in output; unique within a file.
	Name string `yaml:"name"`
	// Event is the incoming event.
	Event Event `yaml:"event"`
	// Socket is the sending socket, for socket events.
	Socket Socket `yaml:"socket"`
	// Vars are merged over the config's vars for this case.
	Vars map[string]any `yaml:"vars"`
	// Server is what room_size and socket_rooms read: the server's rooms
	// when the event arrives. Empty means a server with no rooms.
	Server Server `yaml:"server"`
	// Expect is what the rules must yield.
	Expect Expect `yaml:"expect"`

	line    int  // line of the case in its file, 0 outside files
	hasData bool // the YAML case wrote event.data, possibly as null
}

// Event is the incoming event of a case.
type Event struct {
	// On is the trigger: a Socket.IO event name, "connection",
	// "disconnect", a source's message written "PREFIX:SUBJECT"
	// ("nats:orders.new": the rules whose pattern matches the subject
	// react, with subject set and data as the payload), or an HTTP route
	// written "METHOD /path". A route may be
	// the pattern as written in the config ("GET /users/{id}") or a
	// concrete path ("GET /users/42"), which is resolved to its pattern the
	// way the daemon's router does, filling request.params.
	On string `yaml:"on"`
	// Namespace of the socket; empty means "/".
	Namespace string `yaml:"namespace"`
	// Data is shorthand for Args: []any{Data}, the usual single argument.
	// In Go a nil Data means no arguments; write Args: []any{nil} to send
	// a single null.
	Data any `yaml:"data"`
	// Args are the event's arguments, when there are several.
	Args []any `yaml:"args"`
	// Ack is true when the client asks for an acknowledgement.
	Ack bool `yaml:"ack"`
	// Time is when the event happens, an RFC 3339 timestamp such as
	// 2030-01-01T00:00:00Z: jwt() checks tokens' exp and nbf against it.
	// Zero means the time the case runs.
	Time time.Time `yaml:"time"`
	// Body is the decoded JSON body of an HTTP request.
	Body any `yaml:"body"`
	// Request describes an HTTP request beyond its body.
	Request Request `yaml:"request"`
	// Reason is why a socket disconnected, for disconnect events.
	Reason string `yaml:"reason"`
	// Meta is what else a source tells about its message, as meta (nats:
	// reply and headers), for source events.
	Meta map[string]any `yaml:"meta"`
}

// Request is the HTTP request of a route case. Method and Path default to
// those of Event.On.
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Params  map[string]string `yaml:"params"`  // path wildcards; derived from Path when omitted
	Query   map[string]string `yaml:"query"`   // first value of each query parameter
	Headers map[string]string `yaml:"headers"` // names are lower-cased, as the daemon does
	Address string            `yaml:"address"` // remote address
}

// Socket is the socket a socket event comes from.
type Socket struct {
	// ID defaults to DefaultSocketID.
	ID string `yaml:"id"`
	// Rooms default to the socket's own room, [ID], as in Socket.IO.
	Rooms []string `yaml:"rooms"`
	// Handshake is what the client sent when it connected. Header names
	// are lower-cased, as the daemon does.
	Handshake rules.Handshake `yaml:"handshake"`
	// State is the socket's state, as earlier set actions left it.
	State map[string]any `yaml:"state"`
}

// Server describes the rooms of the server a case's event arrives at, for
// the reads room_size and socket_rooms. It is the whole truth: a socket is
// in a room only when the room lists it, the case's own socket included.
type Server struct {
	// Rooms maps each room of the event's namespace ("/" for routes) to
	// the ids of its sockets.
	Rooms map[string][]string `yaml:"rooms"`
	// Namespaces holds the rooms of other namespaces, by namespace name.
	Namespaces map[string]ServerNamespace `yaml:"namespaces"`
}

// ServerNamespace is the rooms of one namespace of a Server.
type ServerNamespace struct {
	// Rooms maps each room to the ids of its sockets.
	Rooms map[string][]string `yaml:"rooms"`
}

// view is the rules.ServerView of s for an event in namespace ns.
func (s Server) view(ns string) rules.ServerView {
	if s.Rooms == nil && s.Namespaces == nil {
		return nil
	}
	return serverView{own: ns, s: s}
}

// serverView answers room reads from a case's Server table.
type serverView struct {
	own string
	s   Server
}

func (v serverView) rooms(ns string) map[string][]string {
	if ns == v.own {
		return v.s.Rooms
	}
	return v.s.Namespaces[ns].Rooms
}

// RoomSize counts the sockets the table lists in room.
func (v serverView) RoomSize(ns, room string) (int, error) { return len(v.rooms(ns)[room]), nil }

// SocketRooms lists the rooms that list id, sorted.
func (v serverView) SocketRooms(ns, id string) ([]string, error) {
	var out []string
	for room, ids := range v.rooms(ns) {
		if slices.Contains(ids, id) {
			out = append(out, room)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DefaultSocketID is the socket id of a case that sets none.
const DefaultSocketID = "socket-1"

// Expect is what a case checks. At least one field must be set. Actions,
// Contains and NoActions are mutually exclusive.
type Expect struct {
	// Actions is the exact list of actions, in order. A field an action
	// leaves out must be empty in the actual action, except rule and
	// level, which are only compared when given.
	Actions []Action `yaml:"actions"`
	// Contains lists actions that must appear in this order, possibly
	// with others between them. Each is a partial match: only the fields
	// given are compared, and maps in them match any map holding at least
	// their keys (a JSON subset).
	Contains []Action `yaml:"contains"`
	// NoActions requires that the event yields no action at all.
	NoActions bool `yaml:"no_actions"`
	// Error is a substring of a run-time rule error the event must cause.
	// Without it, any run-time rule error fails the case.
	Error string `yaml:"error"`
	// Matched is the exact list of rules, in order, whose trigger matched
	// and whose when condition held.
	Matched []string `yaml:"matched"`
}

// Action is an expected action: a map from action fields to values, as
// they would appear in JSON. The fields are kind, rule, event, args,
// rooms, status, body, headers, message, key, value, level and url, as in
// rules.Action. Numbers compare by value, so 1 equals 1.0.
type Action map[string]any

// actionFields are the keys of an Action, in display order.
var actionFields = []string{"kind", "rule", "namespace", "rooms", "event", "args", "status", "body", "headers", "message", "key", "value", "level", "url", "backend"}

// ignoredUnlessGiven are action fields an exact expectation compares only
// when it gives them: which rule produced an action and a log line's level
// are rarely what a case is about.
var ignoredUnlessGiven = map[string]bool{"rule": true, "level": true}

// FromAction converts an actual action into an expected one holding its
// non-empty fields; handy to write a table from what rules yield today.
func FromAction(a rules.Action) Action {
	return Action(canonical(a))
}

// Parse parses a test file's contents. path names the file in errors and
// locates the default config.
func Parse(path string, src []byte) (*Suite, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty test file; want config: and tests:", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping with config: and tests:", path, root.Line)
	}
	var raw struct {
		Config  string         `yaml:"config"`
		Vars    map[string]any `yaml:"vars"`
		Plugins []string       `yaml:"plugins"`
		Tests   []yaml.Node    `yaml:"tests"`
	}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: "+format, append([]any{path, line}, args...)...))
	}
	for _, p := range checkKeys(root, reflect.TypeOf(raw), "") {
		fail(p.line, "%s", p.msg)
	}
	if err := root.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &Suite{Path: path, Vars: raw.Vars, Plugins: raw.Plugins}
	switch {
	case raw.Config != "":
		s.Config = filepath.Join(filepath.Dir(path), filepath.FromSlash(raw.Config))
	default:
		sib, ok := SiblingConfig(path)
		if !ok {
			fail(root.Line, "config: required, since the file name does not end in _test.yaml")
		}
		s.Config = sib
	}
	if len(raw.Tests) == 0 {
		fail(root.Line, "tests: want a list of cases")
	}
	seen := map[string]int{}
	for i := range raw.Tests {
		node := &raw.Tests[i]
		where := fmt.Sprintf("tests[%d]", i)
		probs := checkKeys(node, reflect.TypeOf(Case{}), "")
		for _, p := range probs {
			fail(p.line, "%s: %s", where, p.msg)
		}
		var c Case
		if err := node.Decode(&c); err != nil {
			fail(node.Line, "%s: %v", where, yamlMessage(err))
			continue
		}
		c.line = node.Line
		c.hasData = hasKey(node, "event", "data")
		if c.Name != "" {
			where = fmt.Sprintf("%s %q", where, c.Name)
		}
		if prev, dup := seen[c.Name]; dup && c.Name != "" {
			fail(node.Line, "%s: duplicate case name, first used on line %d", where, prev)
		}
		seen[c.Name] = node.Line
		if len(probs) == 0 {
			if err := c.validate(); err != nil {
				fail(node.Line, "%s: %v", where, err)
			}
		}
		s.Tests = append(s.Tests, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseFile reads and parses the test file at path.
func ParseFile(path string) (*Suite, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return Parse(path, src)
}

// SiblingConfig names the config a test file tests by default, by dropping
// "_test" from its name: dir/config_test.yaml tests dir/config.yaml.
func SiblingConfig(testPath string) (string, bool) {
	for _, ext := range []string{".yaml", ".yml"} {
		if base, ok := strings.CutSuffix(testPath, "_test"+ext); ok {
			return base + ext, true
		}
	}
	return "", false
}

// SiblingTest names the test file that sits beside a config:
// dir/config.yaml is tested by dir/config_test.yaml.
func SiblingTest(configPath string) string {
	ext := filepath.Ext(configPath)
	return strings.TrimSuffix(configPath, ext) + "_test" + ext
}

// IsTestFile reports whether name is a rule-test file name.
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

// validate checks what a case can get wrong regardless of the config.
func (c *Case) validate() error {
	var errs []string
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, "name: every case needs a name")
	}
	if err := c.validateEvent(); err != nil {
		errs = append(errs, err.Error())
	}
	if err := c.validateExpect(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// validateEvent checks that the event and socket make sense together.
func (c *Case) validateEvent() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	on := strings.TrimSpace(c.Event.On)
	_, _, isRoute := splitRoute(on)
	hasData := c.hasData || c.Event.Data != nil
	switch {
	case on == "":
		bad("event.on: required: an event name, connection, disconnect or METHOD /path")
	case isRoute:
		if hasData || len(c.Event.Args) > 0 || c.Event.Ack {
			bad("event: data, args and ack are for socket events; a route takes body and request")
		}
		if c.Event.Namespace != "" || c.Event.Reason != "" {
			bad("event: namespace and reason are for socket events")
		}
		if !reflect.ValueOf(c.Socket).IsZero() {
			bad("socket: a route has no socket; use event.request")
		}
	case on == "connect":
		bad("event.on: a socket joins with connection, not connect")
	case looksLikeRoute(on):
		bad("event.on: %q is not a route; write METHOD /path with an upper-case method", on)
	default:
		if c.Event.Body != nil || !reflect.ValueOf(c.Event.Request).IsZero() {
			bad("event: body and request are for HTTP routes; a socket event takes data or args")
		}
		if c.Event.Reason != "" && on != "disconnect" {
			bad("event.reason: only a disconnect has a reason")
		}
	}
	if hasData && len(c.Event.Args) > 0 {
		bad("event: give data or args, not both")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// validateExpect checks that the expectations can be checked.
func (c *Case) validateExpect() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	e := c.Expect
	n := 0
	for _, set := range []bool{e.Actions != nil, e.Contains != nil, e.NoActions} {
		if set {
			n++
		}
	}
	if n > 1 {
		bad("expect: actions, contains and no_actions exclude each other")
	}
	if n == 0 && e.Error == "" && e.Matched == nil {
		bad("expect: nothing to check; give actions, contains, no_actions, error or matched")
	}
	for i, a := range e.Actions {
		if err := a.check(true); err != nil {
			bad("expect.actions[%d]: %v", i, err)
		}
	}
	for i, a := range e.Contains {
		if err := a.check(false); err != nil {
			bad("expect.contains[%d]: %v", i, err)
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// check refuses unknown fields and, in an exact list, a missing kind.
func (a Action) check(exact bool) error {
	var unknown []string
	for k := range a {
		if !isActionField(k) {
			unknown = append(unknown, fmt.Sprintf("unknown field %q%s", k, rules.DidYouMean(k, actionFields)))
		}
	}
	sort.Strings(unknown)
	if exact {
		if _, ok := a["kind"]; !ok {
			unknown = append(unknown, "kind: required")
		}
	}
	if len(unknown) > 0 {
		return errors.New(strings.Join(unknown, "; "))
	}
	return nil
}

func isActionField(k string) bool {
	for _, f := range actionFields {
		if f == k {
			return true
		}
	}
	return false
}

// keyProblem is an unknown key found by checkKeys.
type keyProblem struct {
	line int
	msg  string
}

// checkKeys reports every mapping key under node that t does not declare,
// recursing through structs, slices and expected actions.
func checkKeys(node *yaml.Node, t reflect.Type, prefix string) []keyProblem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []keyProblem
	switch {
	case t == reflect.TypeOf(Action{}):
		return nil // checked by Action.check, which names the case's list
	case t.Kind() == reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return nil // Decode reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		sort.Strings(names)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + k.Value
			}
			ft, ok := fields[k.Value]
			if !ok {
				out = append(out, keyProblem{k.Line, fmt.Sprintf("unknown key %s%s", key, rules.DidYouMean(k.Value, names))})
				continue
			}
			if ft == reflect.TypeOf(yaml.Node{}) || ft == reflect.TypeOf([]yaml.Node{}) {
				continue
			}
			out = append(out, checkKeys(v, ft, key)...)
		}
	case t.Kind() == reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range node.Content {
			out = append(out, checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i))...)
		}
	}
	return out
}

// hasKey reports whether the mapping node holds the key path.
func hasKey(node *yaml.Node, path ...string) bool {
	for _, key := range path {
		if node.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == key {
				next = node.Content[i+1]
			}
		}
		if next == nil {
			return false
		}
		node = next
	}
	return true
}

// yamlMessage drops yaml's "yaml: unmarshal errors:" preamble.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}
