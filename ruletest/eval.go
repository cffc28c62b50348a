package ruletest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
)

// Eval turns c into an event and evaluates it against rs, exactly as the
// daemon would, without executing anything. The error reports a case whose
// event cannot be built; a rule that fails at run time is in Result.Errors.
func Eval(rs *rules.Ruleset, c Case) (rules.Result, error) {
	ev, err := NewEvent(rs, c)
	if err != nil {
		return rules.Result{}, err
	}
	return rs.Evaluate(ev), nil
}

// NewEvent builds the event c describes, the way the daemon builds one
// from the wire: data, args, body and handshake auth are converted to JSON
// values (numbers become float64), header names are lower-cased, a
// concrete route path is resolved to the config's route pattern, and the
// case's vars are merged over the config's.
func NewEvent(rs *rules.Ruleset, c Case) (*rules.Event, error) {
	if prefix, subject, ok := rs.Registry().SourceOf(c.Event.On); ok {
		return sourceEvent(rs, c, prefix, subject)
	}
	if err := c.validateEvent(); err != nil {
		return nil, err
	}
	on := strings.TrimSpace(c.Event.On)
	if method, path, ok := splitRoute(on); ok {
		return httpEvent(rs, c, on, method, path)
	}
	ev := &rules.Event{
		Kind:      rules.TriggerEvent,
		Name:      on,
		Namespace: c.Event.Namespace,
		HasAck:    c.Event.Ack,
		Reason:    c.Event.Reason,
		Time:      c.Event.Time,
		Vars:      mergeVars(rs, c.Vars),
	}
	switch on {
	case "connection":
		ev.Kind = rules.TriggerConnection
	case "disconnect":
		ev.Kind = rules.TriggerDisconnect
	}
	if ev.Namespace == "" {
		ev.Namespace = "/"
	}
	switch {
	case len(c.Event.Args) > 0:
		ev.Args = wire(c.Event.Args).([]any)
	case c.hasData || c.Event.Data != nil:
		ev.Args = []any{wire(c.Event.Data)}
	}
	s := c.Socket
	ev.Socket = rules.Socket{
		ID:        s.ID,
		Namespace: ev.Namespace,
		Rooms:     slices.Clone(s.Rooms),
		State:     maps.Clone(s.State),
		Handshake: rules.Handshake{
			Query:   maps.Clone(s.Handshake.Query),
			Headers: lowerKeys(s.Handshake.Headers),
			Address: s.Handshake.Address,
			Secure:  s.Handshake.Secure,
		},
	}
	if s.Handshake.Auth != nil {
		ev.Socket.Handshake.Auth = wire(s.Handshake.Auth).(map[string]any)
	}
	if ev.Socket.ID == "" {
		ev.Socket.ID = DefaultSocketID
	}
	if s.Rooms == nil {
		ev.Socket.Rooms = []string{ev.Socket.ID}
	}
	ev.Server = c.Server.view(ev.Namespace)
	return ev, nil
}

// sourceEvent builds the event of a source message case: every rule of
// the source whose pattern matches subject reacts.
func sourceEvent(rs *rules.Ruleset, c Case, prefix, subject string) (*rules.Event, error) {
	e := c.Event
	if len(e.Args) > 0 || e.Ack || e.Namespace != "" || e.Reason != "" || e.Body != nil || !reflect.ValueOf(e.Request).IsZero() || !reflect.ValueOf(c.Socket).IsZero() {
		return nil, fmt.Errorf("event: a %s message takes data (its payload) and meta, not args, ack, namespace, reason, body, request or socket", prefix)
	}
	if subject == "" {
		return nil, fmt.Errorf("event.on: %q needs a subject after the colon", e.On)
	}
	ev := rules.SourceEvent(prefix, "", subject, wire(e.Data), nil)
	if e.Meta != nil {
		ev.Meta = wire(e.Meta).(map[string]any)
	}
	ev.Time, ev.Vars, ev.Server = e.Time, mergeVars(rs, c.Vars), c.Server.view("/")
	return ev, nil
}

// httpEvent builds the event of a route case.
func httpEvent(rs *rules.Ruleset, c Case, on, method, path string) (*rules.Event, error) {
	r := c.Event.Request
	if r.Method != "" && r.Method != method {
		return nil, fmt.Errorf("event.request.method: %s contradicts event.on %q", r.Method, on)
	}
	if r.Path != "" {
		path = r.Path
	}
	name, params := on, map[string]string(nil)
	if slices.Contains(rs.Routes, on) {
		if r.Path != "" {
			_, params = resolveRoute([]string{on}, method, path)
		}
	} else if pattern, p := resolveRoute(rs.Routes, method, path); pattern != "" {
		name, params = pattern, p
	}
	if r.Params != nil {
		params = mergeStrings(params, r.Params)
	}
	return &rules.Event{
		Kind:   rules.TriggerHTTP,
		Name:   name,
		Time:   c.Event.Time,
		Vars:   mergeVars(rs, c.Vars),
		Server: c.Server.view("/"),
		Request: rules.Request{
			Method:  method,
			Path:    path,
			Params:  params,
			Query:   maps.Clone(r.Query),
			Headers: lowerKeys(r.Headers),
			Address: r.Address,
			Body:    wire(c.Event.Body),
		},
	}, nil
}

// resolveRoute finds the pattern among routes that serves method and path,
// with its wildcards, as the daemon's ServeMux would. It only calls a
// recording handler; nothing touches the network.
func resolveRoute(routes []string, method, path string) (pattern string, params map[string]string) {
	mux := http.NewServeMux()
	for _, rt := range routes {
		func() {
			defer func() { _ = recover() }() // Load already refused bad patterns
			mux.HandleFunc(rt, func(_ http.ResponseWriter, req *http.Request) {
				pattern = req.Pattern
				for _, name := range wildcards(req.Pattern) {
					if params == nil {
						params = map[string]string{}
					}
					params[name] = req.PathValue(name)
				}
			})
		}()
	}
	req, err := http.NewRequest(method, "http://eventrouter.test"+path, nil)
	if err != nil {
		return "", nil
	}
	mux.ServeHTTP(httptest.NewRecorder(), req)
	return pattern, params
}

// wildcards lists the {name} segments of a route pattern.
func wildcards(pattern string) []string {
	var out []string
	for _, seg := range strings.Split(pattern, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			if name != "$" {
				out = append(out, name)
			}
		}
	}
	return out
}

var (
	routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/\S*)$`)
	httpMethods  = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// splitRoute splits "POST /post" into its method and path.
func splitRoute(on string) (method, path string, ok bool) {
	m := routePattern.FindStringSubmatch(on)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// looksLikeRoute spots a misspelt route such as "post /x".
func looksLikeRoute(on string) bool {
	method, rest, ok := strings.Cut(on, " ")
	return ok && (slices.Contains(httpMethods, strings.ToUpper(method)) || strings.HasPrefix(strings.TrimSpace(rest), "/"))
}

// mergeVars lays the case's vars over the config's; nil keeps the config's.
func mergeVars(rs *rules.Ruleset, vars map[string]any) map[string]any {
	if vars == nil {
		return nil
	}
	out := maps.Clone(rs.Config.Vars)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, vars)
	return out
}

func mergeStrings(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

func lowerKeys(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// wire converts a value written in YAML or Go into what the daemon's JSON
// and Socket.IO decoders would produce: float64 numbers, map[string]any,
// []any, strings, booleans and nil.
func wire(v any) any {
	return normalize(v)
}

// normalize maps v onto JSON's value space, so that values compare by
// meaning: every number becomes a float64, every list []any, every map
// map[string]any, and []byte a string. Other types go through JSON.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x
	case []byte:
		return string(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return normalize(rv.Elem().Interface())
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = normalize(iter.Value().Interface())
		}
		return out
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Sprint(v)
	}
	return out
}
