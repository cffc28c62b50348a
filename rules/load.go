package rules

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable that overrides a config key:
// EVENTROUTER_SERVER_LISTEN overrides server.listen,
// EVENTROUTER_SERVER_CORS_ORIGINS="a,b" overrides server.cors.origins.
const EnvPrefix = "EVENTROUTER_"

// ByteSize is a size in bytes. In YAML it is a number of bytes or a string
// with a unit: "1MiB", "512KB", "1e6".
type ByteSize int64

// LoadOptions tunes how a config is read.
type LoadOptions struct {
	// Environ supplies environment variables (KEY=value); nil means os.Environ.
	// It is also where vars_from env sources and CREDENTIALS_DIRECTORY are
	// looked up.
	Environ func() []string
	// StandIns, when not nil, stands in for every secret: no vars_from
	// source and no EVENTROUTER_VARS_* variable is read, each vars_from
	// name takes its value from StandIns (a name missing there is a
	// problem), and the other names in StandIns override vars. Rule tests
	// use it so that no secret reaches their output; an empty map reads
	// no secret and stands in for none.
	StandIns map[string]any
}

// LoadFile reads, strictly validates and decodes the config file at path,
// then applies EVENTROUTER_* environment overrides. Every problem found is
// returned together in a *LoadError. LoadFile does not compile expressions;
// Load does.
func LoadFile(path string, opts LoadOptions) (*Config, error) {
	cfg, ps, err := loadFile(path, opts)
	if err != nil {
		return nil, err
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadFile decodes what it can and records every problem in the returned
// problems, so compilation can add its own before they are reported. A
// non-nil error means nothing could be decoded at all.
func loadFile(path string, opts LoadOptions) (*Config, *problems, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	pos, err := indexPositions(src)
	ps := &problems{file: path, pos: pos}
	if err != nil {
		line, col, msg := locateYAMLError(src, err)
		if hint := yamlHint(lineAt(src, line), msg); hint != "" {
			msg += " (" + hint + ")"
		}
		ps.addAt("", "", line, col, "invalid YAML: "+msg)
		return nil, nil, ps.err()
	}

	k := koanf.New(".")
	if err := k.Load(srcProvider(src), yaml.Parser()); err != nil {
		var top any
		if yerr := yamlv3.Unmarshal(src, &top); yerr == nil && top != nil {
			// koanf wants a mapping at the top and says so in Go.
			ps.addAt("", "", 1, 1, fmt.Sprintf("the config must be a mapping of keys such as server: and rules:, got %s", valueWord(top)))
		} else {
			ps.addAt("", "", 0, 0, fmt.Sprintf("invalid config: %v", unwrapAll(err)))
		}
		return nil, nil, ps.err()
	}

	environ := opts.Environ
	if environ == nil {
		environ = os.Environ
	}
	envKeys := envKeyTable(reflect.TypeOf(Config{}))
	vr := newVarReader(ps, path, environ(), opts.StandIns)
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: environ,
		TransformFunc: func(name, value string) (string, any) {
			if key, v, ok := vr.envVar(name, value); ok {
				return key, v
			}
			short := strings.TrimPrefix(name, EnvPrefix)
			leaf, ok := envKeys[short]
			if !ok {
				ps.addAt(name, "", 0, 0, fmt.Sprintf("unknown environment variable %s%s", name, envSuggestion(short, keysOf(envKeys))))
				return "", nil
			}
			v, err := parseEnvValue(value, leaf.typ)
			if err != nil {
				ps.addAt(leaf.key, "", 0, 0, fmt.Sprintf("environment variable %s: %v", name, err))
				return "", nil
			}
			return leaf.key, v
		},
	}), nil); err != nil {
		return nil, nil, fmt.Errorf("read environment: %w", err)
	}

	// Keys are checked after the environment is applied, on the same raw
	// values that are decoded: every override names a declared key, and a
	// misspelt key's value is decoded under the key it was meant to be.
	raw := k.Raw()
	typos := checkKeys(ps, "", raw, reflect.TypeOf(Config{}))
	ps.ruleNames = ruleNames(raw["rules"])
	for _, t := range typos {
		rule, rel := ps.ruleScope(t.path)
		ps.add(t.path, rule, "unknown key %s%s", rel, DidYouMean(t.key, t.names))
	}

	cfg := Config{}
	failed := map[string]bool{}
	decodeInto(ps, failed, "", raw, reflect.ValueOf(&cfg).Elem())
	applyDefaults(raw, failed, &cfg)
	applyBackendDefaults(raw, &cfg)
	validateSettings(ps, failed, &cfg)
	validateStatic(skipFailed{ps, failed}, &cfg, filepath.Dir(path))
	vr.resolve(&cfg, failed)
	return &cfg, ps, nil
}

// srcProvider hands koanf the bytes already read, so the file is read once
// and the positions match what is decoded.
type srcProvider []byte

// ReadBytes returns the file's bytes.
func (p srcProvider) ReadBytes() ([]byte, error) { return p, nil }

// Read is not supported: koanf calls ReadBytes when given a parser.
func (p srcProvider) Read() (map[string]any, error) {
	return nil, errors.New("srcProvider needs a parser")
}

// lineAt returns the 1-based line of src, or "".
func lineAt(src []byte, line int) string {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	return lines[line-1]
}

// ruleNames returns the name of each rule in the raw rules list, "" where
// a rule has none.
func ruleNames(raw any) []string {
	list, _ := raw.([]any)
	names := make([]string, len(list))
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			names[i], _ = m["name"].(string)
		}
	}
	return names
}

// decodeInto decodes raw into the struct v field by field, so that every
// wrongly typed key is reported, not only the first.
func decodeInto(ps *problems, failed map[string]bool, prefix string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		if raw != nil {
			ps.addKey(prefix, "want a mapping, got %s", valueWord(raw))
			failed[prefix] = true
		}
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := joinKey(prefix, f.Tag.Get("koanf"))
		val, present := m[f.Tag.Get("koanf")]
		if !present {
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct:
			decodeInto(ps, failed, key, val, v.Field(i))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			list, ok := val.([]any)
			if !ok {
				if val != nil {
					ps.addKey(key, "want a list, got %s", valueWord(val))
					failed[key] = true
				}
				continue
			}
			out := reflect.MakeSlice(f.Type, len(list), len(list))
			for j, item := range list {
				decodeInto(ps, failed, fmt.Sprintf("%s[%d]", key, j), item, out.Index(j))
			}
			v.Field(i).Set(out)
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			decodeMap(ps, failed, key, val, v.Field(i))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String && isList(val):
			decodeStrings(ps, failed, key, val.([]any), v.Field(i))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String && isScalar(val):
			// One value where a list belongs: say how to write the list,
			// and check the value as its only item.
			item := fmt.Sprint(val)
			ps.addKey(key, "want a list, not a single value; write %s: [%s], or put %s on the next line as a list item that starts with \"- \"",
				f.Tag.Get("koanf"), flowItem(item), item)
			ps.pos.asItem(key)
			decodeStrings(ps, failed, key, []any{val}, v.Field(i))
		case f.Type.Kind() == reflect.Slice && val != nil && !isList(val):
			ps.addKey(key, "want %s, got %s", typeWord(f.Type), valueWord(val))
			failed[key] = true
		default:
			if err := decodeValue(val, v.Field(i).Addr().Interface()); err != nil {
				ps.addKey(key, "%s", err)
				failed[key] = true
				if f.Type.Kind() == reflect.String && isScalar(val) {
					// Check the rest of the rule as if it were quoted.
					v.Field(i).SetString(fmt.Sprint(val))
				}
			}
		}
	}
}

func isList(v any) bool { _, ok := v.([]any); return ok }

// isScalar reports whether v is a single YAML value: not a list, not a
// mapping, not nothing.
func isScalar(v any) bool {
	switch v.(type) {
	case nil, []any, map[string]any:
		return false
	}
	return true
}

// flowItem writes s as an item of a YAML flow list ([a, b]), quoting it
// when YAML would otherwise split or misread it.
func flowItem(s string) string {
	if s == "" || strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@`") || strings.ContainsAny(s, ",[]{}") ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.TrimSpace(s) != s {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}

// decodeStrings decodes a list of strings item by item, so that each bad
// item is reported where it stands. A bad item is left empty in place, so
// later items keep their index.
func decodeStrings(ps *problems, failed map[string]bool, key string, list []any, v reflect.Value) {
	out := reflect.MakeSlice(v.Type(), len(list), len(list))
	for j, item := range list {
		ikey := fmt.Sprintf("%s[%d]", key, j)
		if item == nil {
			ps.addKey(ikey, `empty item: write a value after "- ", or remove the line`)
			failed[ikey] = true
			continue
		}
		if err := decodeValue(item, out.Index(j).Addr().Interface()); err != nil {
			hint := ""
			if _, isMap := item.(map[string]any); isMap {
				hint = ` (an expression that holds ": " must be quoted, or YAML reads it as a mapping)`
			}
			ps.addKey(ikey, "%s%s", err, hint)
			failed[ikey] = true
		}
	}
	v.Set(out)
}

// decodeValue decodes one leaf value strictly: no weak typing.
func decodeValue(in, out any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:    "koanf",
		Result:     out,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(durationHook, byteSizeHook),
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(in); err != nil {
		return errors.New(describeDecodeError(err))
	}
	return nil
}

// typo is a key that its type does not declare.
type typo struct {
	path  string   // where it stands, e.g. "rules[2].whn"
	key   string   // the key as written, e.g. "whn"
	names []string // the keys declared there, sorted
}

// checkKeys finds every key in raw that the type t does not declare. When
// a misspelt key is close to a declared key that is absent, its value is
// copied there (and its positions aliased), so that what the value holds
// is checked too, in the same run, instead of after the typo is fixed.
func checkKeys(ps *problems, prefix string, raw any, t reflect.Type) []typo {
	var out []typo
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil // the decoder reports the type mismatch
		}
		fields := structKeys(t)
		names := keysOf(fields)
		for _, key := range keysOf(m) {
			path := joinKey(prefix, key)
			if _, ok := fields[key]; ok {
				continue
			}
			out = append(out, typo{path: path, key: key, names: names})
			if meant := closest(key, names); meant != "" {
				if _, taken := m[meant]; !taken {
					m[meant] = m[key]
					ps.pos.alias(path, joinKey(prefix, meant))
				}
			}
		}
		for _, key := range keysOf(m) {
			if f, ok := fields[key]; ok {
				out = append(out, checkKeys(ps, joinKey(prefix, key), m[key], f.Type)...)
			}
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			return nil
		}
		for i, item := range list {
			out = append(out, checkKeys(ps, prefix+"["+strconv.Itoa(i)+"]", item, t.Elem())...)
		}
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok || t.Elem().Kind() != reflect.Struct {
			return nil
		}
		for _, key := range keysOf(m) {
			out = append(out, checkKeys(ps, joinKey(prefix, key), m[key], t.Elem())...)
		}
	}
	return out
}

// structKeys maps each koanf tag of t to its field.
func structKeys(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("koanf"); tag != "" && tag != "-" {
			out[tag] = f
		}
	}
	return out
}

// envLeaf is a config key that an environment variable may override.
type envLeaf struct {
	key string
	typ reflect.Type
}

// envKeyTable maps variable names without the prefix (SERVER_MAX_BODY) to
// config keys (server.max_body). Only scalar and list-of-scalar leaves are
// overridable; rules and vars are not.
func envKeyTable(t reflect.Type) map[string]envLeaf {
	out := map[string]envLeaf{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			key := joinKey(prefix, tag)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(key, f.Type)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.String:
			case f.Type.Kind() == reflect.Map:
			default:
				name := strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
				out[name] = envLeaf{key: key, typ: f.Type}
			}
		}
	}
	walk("", t)
	return out
}

// parseEnvValue converts an environment string into the type of its key.
func parseEnvValue(s string, t reflect.Type) (any, error) {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return s, nil // durationHook parses it
	case t == reflect.TypeOf(ByteSize(0)):
		return s, nil
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", s)
		}
		return n, nil
	case t.Kind() == reflect.Slice:
		var out []any
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	default:
		return s, nil
	}
}

// durationHook decodes "25s"-style strings into time.Duration and refuses
// bare numbers, whose unit would be a guess.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	s, ok := data.(string)
	if !ok {
		return nil, fmt.Errorf("want a duration with a unit such as \"10s\" or \"500ms\", got %s", shortValue(data))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("want a duration such as \"10s\" or \"500ms\", got %q", s)
	}
	if d < 0 {
		return nil, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// byteSizeHook decodes sizes written as numbers or as "1MiB"-style strings.
func byteSizeHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(ByteSize(0)) {
		return data, nil
	}
	switch v := data.(type) {
	case int:
		return ByteSize(v), nil
	case int64:
		return ByteSize(v), nil
	case uint64:
		return ByteSize(v), nil
	case float64:
		if v < 0 || v != float64(int64(v)) {
			return nil, fmt.Errorf("want a whole number of bytes, got %v", v)
		}
		return ByteSize(v), nil
	case string:
		n, err := humanize.ParseBytes(v)
		if err != nil {
			return nil, fmt.Errorf("want a size such as 1048576, \"1MiB\" or \"512KB\", got %q", v)
		}
		return ByteSize(n), nil
	default:
		return nil, fmt.Errorf("want a size such as 1048576 or \"1MiB\", got %s", shortValue(data))
	}
}

// describeDecodeError phrases a decode failure for a person.
func describeDecodeError(err error) string {
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("want %s, got %s", typeWord(ute.Expected.Type()), valueWord(ute.Value))
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return describeDecodeError(de.Unwrap())
	}
	return unwrapAll(err).Error()
}

// typeWord names a Go type the way a YAML author thinks of it.
func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeWord(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// valueWord describes a decoded YAML value.
func valueWord(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case int, int64, float64, uint64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// shortValue writes a scalar as it stands in YAML and names anything else.
func shortValue(v any) string {
	switch v.(type) {
	case nil, []any, map[string]any:
		return valueWord(v)
	}
	return fmt.Sprint(v)
}

// unwrapAll returns the innermost error of a chain.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// applyDefaults fills every scalar or list key that neither the file nor
// the environment set with its value from Defaults. raw is what they set,
// misspelt keys included under the key they were meant to be. A key that
// failed to decode gets its default too, so the checks that depend on it
// do not report its absence as well.
func applyDefaults(raw map[string]any, failed map[string]bool, cfg *Config) {
	def := reflect.ValueOf(Defaults())
	var walk func(prefix string, dst, src reflect.Value)
	walk = func(prefix string, dst, src reflect.Value) {
		t := dst.Type()
		for i := 0; i < t.NumField(); i++ {
			key := joinKey(prefix, t.Field(i).Tag.Get("koanf"))
			if t.Field(i).Type.Kind() == reflect.Struct {
				walk(key, dst.Field(i), src.Field(i))
				continue
			}
			if !rawHas(raw, key) || failed[key] {
				dst.Field(i).Set(src.Field(i))
			}
		}
	}
	walk("", reflect.ValueOf(cfg).Elem(), def)
}

// rawHas reports whether the dotted key is set in raw.
func rawHas(raw map[string]any, key string) bool {
	var v any = raw
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// validateEngine checks socketio.engine.
func validateEngine(ps skipFailed, sc *SocketIOConfig) {
	if sc.Engine != EngineLibrary && sc.Engine != EngineBuiltin {
		ps.add("socketio.engine", "", "socketio.engine: want library or builtin, got %q%s", sc.Engine, DidYouMean(sc.Engine, []string{EngineLibrary, EngineBuiltin}))
	}
}

// validateSettings checks values that decode but make no sense.
func validateSettings(all *problems, failed map[string]bool, cfg *Config) {
	// Keys that failed to decode were reported already.
	ps := skipFailed{all, failed}
	if cfg.Server.Listen == "" {
		ps.add("server.listen", "", "server.listen: must not be empty")
	}
	if cfg.Server.MaxBody <= 0 {
		ps.add("server.max_body", "", "server.max_body: must be positive")
	}
	if cfg.SocketIO.MaxPayload <= 0 {
		ps.add("socketio.max_payload", "", "socketio.max_payload: must be positive")
	}
	if !strings.HasPrefix(cfg.SocketIO.Path, "/") {
		ps.add("socketio.path", "", "socketio.path: must start with /, got %q", cfg.SocketIO.Path)
	}
	for i, tr := range cfg.SocketIO.Transports {
		if !slices.Contains(transports, tr) {
			ps.add(fmt.Sprintf("socketio.transports[%d]", i), "", "socketio.transports: unknown transport %q%s", tr, DidYouMean(tr, transports))
		}
	}
	validateEngine(ps, &cfg.SocketIO)
	if cfg.Runtime.GCPercent < 10 {
		ps.add("runtime.gc_percent", "", "runtime.gc_percent: %d is too low; use 10 or more (100 is Go's default)", cfg.Runtime.GCPercent)
	}
	if cfg.Runtime.MemoryLimit < 0 {
		ps.add("runtime.memory_limit", "", "runtime.memory_limit: must not be negative")
	}
	if cfg.Limits.ExprNodes < 0 {
		ps.add("limits.expr_nodes", "", "limits.expr_nodes: must not be negative (0 means no limit)")
	}
	if cfg.Limits.ExprMemory < 0 {
		ps.add("limits.expr_memory", "", "limits.expr_memory: must not be negative (0 means no limit)")
	}
	if cfg.SocketIO.MaxQueue <= 0 {
		ps.add("socketio.max_queue", "", "socketio.max_queue: must be positive")
	}
	validateLimits(ps, cfg)
	if len(cfg.SocketIO.Transports) == 0 {
		ps.add("socketio.transports", "", "socketio.transports: at least one transport is needed")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"socketio.ping_interval", cfg.SocketIO.PingInterval}, {"socketio.ping_timeout", cfg.SocketIO.PingTimeout}, {"socketio.connect_timeout", cfg.SocketIO.ConnectTimeout}, {"socketio.write_timeout", cfg.SocketIO.WriteTimeout}, {"server.shutdown_timeout", cfg.Server.ShutdownTimeout},
		{"server.read_header_timeout", cfg.Server.ReadHeaderTimeout}, {"server.read_timeout", cfg.Server.ReadTimeout}, {"server.idle_timeout", cfg.Server.IdleTimeout}} {
		if d.v <= 0 {
			ps.add(d.key, "", "%s: must be a positive duration", d.key)
		}
	}
	if cfg.Limits.HTTPRequestsPerSecond < 0 {
		ps.add("limits.http_requests_per_second", "", "limits.http_requests_per_second: must not be negative")
	}
	if cfg.Limits.HTTPBurst < 0 {
		ps.add("limits.http_burst", "", "limits.http_burst: must not be negative")
	}
	seen := map[string]bool{}
	for i, ns := range cfg.Namespaces {
		key := fmt.Sprintf("namespaces[%d]", i)
		if !strings.HasPrefix(ns, "/") {
			ps.add(key, "", "namespaces: %q must start with /", ns)
		}
		if seen[ns] {
			ps.add(key, "", "namespaces: %q is listed twice", ns)
		}
		seen[ns] = true
	}
	switch cfg.SocketIO.AckUnanswered {
	case AckSilent, AckError:
	default:
		ps.add("socketio.ack_unanswered", "", "socketio.ack_unanswered: want silent or error, got %q%s", cfg.SocketIO.AckUnanswered, DidYouMean(cfg.SocketIO.AckUnanswered, []string{AckSilent, AckError}))
	}
	if !slices.Contains(logLevels, cfg.Log.Level) {
		ps.add("log.level", "", "log.level: want debug, info, warn or error, got %q%s", cfg.Log.Level, DidYouMean(cfg.Log.Level, logLevels))
	}
	if !slices.Contains(logFormats, cfg.Log.Format) {
		ps.add("log.format", "", "log.format: want console or json, got %q", cfg.Log.Format)
	}
	validateCluster(ps, cfg)
	validateAdminUI(ps, cfg)
	for i, m := range cfg.Server.CORS.Methods {
		if m != strings.ToUpper(m) || m == "" {
			ps.add(fmt.Sprintf("server.cors.methods[%d]", i), "", "server.cors.methods: %q must be an upper-case HTTP method", m)
		}
	}
}

// validateCluster checks the cluster and recovery settings.
func validateCluster(ps skipFailed, cfg *Config) {
	if cfg.SocketIO.Recovery.MaxDisconnection < 0 {
		ps.add("socketio.recovery.max_disconnection", "", "socketio.recovery.max_disconnection: must not be negative (0 turns recovery off)")
	}
	c := cfg.Cluster
	if !c.Enabled() {
		if c != Defaults().Cluster {
			ps.add("cluster.redis.url", "", "cluster.redis.url: required when cluster is set (redis://host:6379/0)")
		}
		return
	}
	if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") || (u.Scheme != "unix" && u.Host == "") {
		ps.add("cluster.redis.url", "", "cluster.redis.url: want redis://[user:password@]host:port/db, rediss://... for TLS or unix:///path, got %q", redactURL(c.Redis.URL))
	}
	if c.Redis.Prefix == "" {
		ps.add("cluster.redis.prefix", "", "cluster.redis.prefix: must not be empty")
	}
	switch c.OnOutage {
	case OutageDegraded, OutageNotReady:
	default:
		ps.add("cluster.on_outage", "", "cluster.on_outage: want degraded or not_ready, got %q%s", c.OnOutage, DidYouMean(c.OnOutage, []string{OutageDegraded, OutageNotReady}))
	}
	if c.RequestTimeout <= 0 {
		ps.add("cluster.request_timeout", "", "cluster.request_timeout: must be a positive duration")
	}
}

// validateStatic checks server.static and resolves it in place: each
// mount's path loses a trailing "/", and a relative dir is joined to
// configDir, the config file's directory, as vars_from files are. A mount
// must not repeat another's path nor lie inside socketio.path, and its
// directory must exist when the config is loaded.
func validateStatic(ps skipFailed, cfg *Config, configDir string) {
	sio := strings.TrimSuffix(cfg.SocketIO.Path, "/")
	seen := map[string]int{}
	for i := range cfg.Server.Static {
		m := &cfg.Server.Static[i]
		key := fmt.Sprintf("server.static[%d]", i)
		switch p := m.Path; {
		case p == "":
			ps.add(key, "", "%s.path: required: the URL path to serve the files under, such as / or /assets", key)
		case !strings.HasPrefix(p, "/"):
			ps.add(key+".path", "", "%s.path: must start with /, got %q", key, p)
		case pathpkg.Clean(p) != strings.TrimSuffix(p, "/") && p != "/":
			ps.add(key+".path", "", "%s.path: %q is not a clean path; write %s", key, p, pathpkg.Clean(p))
		default:
			if p != "/" {
				m.Path = strings.TrimSuffix(p, "/")
			}
			if first, dup := seen[m.Path]; dup {
				ps.add(key+".path", "", "%s.path: %s is already served by server.static[%d]", key, m.Path, first)
			} else {
				seen[m.Path] = i
			}
			if m.Path == sio || strings.HasPrefix(m.Path, sio+"/") {
				ps.add(key+".path", "", "%s.path: %s is inside socketio.path %s, which the Socket.IO server answers", key, m.Path, cfg.SocketIO.Path)
			}
		}
		if m.Dir == "" {
			ps.add(key, "", "%s.dir: required: the directory whose files are served", key)
			continue
		}
		if !filepath.IsAbs(m.Dir) {
			m.Dir = filepath.Join(configDir, m.Dir)
		}
		switch fi, err := os.Stat(m.Dir); {
		case errors.Is(err, os.ErrNotExist):
			ps.add(key+".dir", "", "%s.dir: no directory %s", key, m.Dir)
		case err != nil:
			ps.add(key+".dir", "", "%s.dir: %v", key, unwrapAll(err))
		case !fi.IsDir():
			ps.add(key+".dir", "", "%s.dir: %s is not a directory", key, m.Dir)
		}
	}
}

// DidYouMean returns ", did you mean X?" naming the candidate closest to s,
// or "" when none is near enough to be a plausible typo. prefix, if given,
// is written before the candidate.
func DidYouMean(s string, candidates []string, prefix ...string) string {
	if c := closest(s, candidates); c != "" {
		return ", did you mean " + strings.Join(prefix, "") + c + "?"
	}
	return ""
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// skipFailed adds problems except for keys that already failed to decode.
type skipFailed struct {
	ps     *problems
	failed map[string]bool
}

func (s skipFailed) add(key, rule, format string, args ...any) {
	for k := range s.failed {
		if key == k || strings.HasPrefix(key, k+"[") || strings.HasPrefix(key, k+".") {
			return
		}
	}
	s.ps.add(key, rule, format, args...)
}
