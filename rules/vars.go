package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Vars from outside the config file. A secret (an API key, a token list)
// does not belong in config.yaml, which is often world-readable and kept in
// version control. It comes from the environment, from a file or from a
// systemd credential instead, and is read at every load, so a reload picks
// up a changed file. Its value is merged into vars like any constant, but
// it is never part of a message: the loader names the var and the source,
// never what it read, and the router redacts it from rule log lines
// (Config.Secrets).

// VarsEnvPrefix starts an environment variable that sets one var:
// EVENTROUTER_VARS_API_KEY=x sets vars.api_key to the string "x". The name
// after the prefix is lower-cased; underscores stay, so there is no nesting.
const VarsEnvPrefix = EnvPrefix + "VARS_"

// CredentialsDirEnv names the variable that systemd sets to the directory
// holding a service's credentials (LoadCredential=).
const CredentialsDirEnv = "CREDENTIALS_DIRECTORY"

// VarSource says where the value of one vars_from entry comes from: exactly
// one of Env, File and Credential, read as Format says.
type VarSource struct {
	Env        string `koanf:"env" doc:"read the value from this environment variable; unset or empty is an error"`
	File       string `koanf:"file" doc:"read the value from this file; a relative path is relative to the config file's directory"`
	Credential string `koanf:"credential" doc:"read the value from the systemd credential of this name, $CREDENTIALS_DIRECTORY/NAME (LoadCredential=)"`
	Format     string `koanf:"format" doc:"text (default: the string as it is, less one trailing newline of a file), json or yaml (parsed into a structure)"`
}

// The values of VarSource.Format.
const (
	FormatText = "text" // the default
	FormatJSON = "json"
	FormatYAML = "yaml"
)

var varFormats = []string{FormatText, FormatJSON, FormatYAML}

// describe names the source for messages, never its value.
func (s VarSource) describe() string {
	switch {
	case s.Env != "":
		return "environment variable " + s.Env
	case s.File != "":
		return "file " + s.File
	default:
		return "credential " + s.Credential
	}
}

// Secrets returns every secret string of the config: the values of the vars
// that VarsFrom names (vars_from entries and EVENTROUTER_VARS_* variables)
// and, for a structured value, every string and map key inside it. They
// are sorted longest first, so that a secret containing another is
// redacted whole, without duplicates or empty strings. Numbers and booleans
// are not included: redacting "1" would mangle every line.
func (c *Config) Secrets() []string {
	if len(c.VarsFrom) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if x != "" {
				seen[x] = true
			}
		case map[string]any:
			for k, item := range x {
				walk(k)
				walk(item)
			}
		case []any:
			for _, item := range x {
				walk(item)
			}
		}
	}
	for name := range c.VarsFrom {
		walk(c.Vars[name])
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// varReader fills vars from outside the config file during one load.
type varReader struct {
	ps       *problems
	dir      string            // the config file's directory
	environ  map[string]string // the load's environment
	standIns map[string]any    // LoadOptions.StandIns
	// fromEnv maps each var an EVENTROUTER_VARS_* variable set to the
	// variable's name.
	fromEnv map[string]string
}

func newVarReader(ps *problems, configPath string, environ []string, standIns map[string]any) *varReader {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return &varReader{ps: ps, dir: filepath.Dir(configPath), environ: env, standIns: standIns, fromEnv: map[string]string{}}
}

// envVar handles an EVENTROUTER_VARS_* variable for the environment
// provider. It reports whether name is one; if so, key and v are what the
// provider sets, and an empty key sets nothing.
func (r *varReader) envVar(name, value string) (key string, v any, ok bool) {
	short, ok := strings.CutPrefix(name, VarsEnvPrefix)
	if !ok {
		return "", nil, false
	}
	if r.standIns != nil {
		return "", nil, true // rule tests read no secret
	}
	if short == "" || strings.TrimLeft(short, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		r.ps.addAt(name, "", 0, 0, fmt.Sprintf("environment variable %s: want %sNAME, with NAME made of letters, digits and _", name, VarsEnvPrefix))
		return "", nil, true
	}
	varName := strings.ToLower(short)
	if prev, dup := r.fromEnv[varName]; dup {
		r.ps.addAt(name, "", 0, 0, fmt.Sprintf("environment variables %s and %s both set vars.%s", prev, name, varName))
		return "", nil, true
	}
	r.fromEnv[varName] = name
	return "vars." + varName, value, true
}

// envSuggestion follows "unknown environment variable" for the variable
// EVENTROUTER_<short>: the closest config key, or EVENTROUTER_VARS_* when
// that is closer (EVENTROUTER_VAR_API_KEY), or else a hint that setting a
// var takes the VARS_ prefix (EVENTROUTER_API_KEY).
func envSuggestion(short string, keys []string) string {
	candidates := slices.Clone(keys)
	if _, rest, ok := strings.Cut(short, "_"); ok {
		candidates = append(candidates, "VARS_"+rest)
	}
	if rest, ok := strings.CutPrefix(short, "VARS"); ok && rest != "" {
		candidates = append(candidates, "VARS_"+rest)
	}
	if s := DidYouMean(short, candidates, EnvPrefix); s != "" {
		return s
	}
	return fmt.Sprintf("; to set vars.%s, write %s%s", strings.ToLower(short), VarsEnvPrefix, short)
}

// resolve reads every vars_from source into cfg.Vars, or takes its stand-in,
// and records the vars the environment set in cfg.VarsFrom.
func (r *varReader) resolve(cfg *Config, failed map[string]bool) {
	ps := skipFailed{r.ps, failed}
	names := keysOf(cfg.VarsFrom)
	for _, name := range names {
		src := cfg.VarsFrom[name]
		key := joinKey("vars_from", name)
		if !r.valid(ps, key, src) {
			continue
		}
		if variable, dup := r.fromEnv[name]; dup {
			ps.add(key, "", "%s and the environment variable %s both set vars.%s; keep one", key, variable, name)
			continue
		}
		if _, dup := cfg.Vars[name]; dup {
			ps.add(key, "", "vars.%s and %s both set vars.%s; keep one", name, key, name)
			continue
		}
		var v any
		if r.standIns != nil {
			standIn, ok := r.standIns[name]
			if !ok {
				ps.add(key, "", "%s: rule tests never read secrets (%s); give %s a stand-in value under vars: at the top of the test file", key, src.describe(), name)
				continue
			}
			v = standIn
		} else {
			var err error
			if v, err = r.read(src); err != nil {
				ps.add(key, "", "%s: %s: %v", key, src.describe(), err)
				continue
			}
		}
		if cfg.Vars == nil {
			cfg.Vars = map[string]any{}
		}
		cfg.Vars[name] = v
	}
	for name, value := range r.standIns {
		if _, secret := cfg.VarsFrom[name]; !secret {
			if cfg.Vars == nil {
				cfg.Vars = map[string]any{}
			}
			cfg.Vars[name] = value
		}
	}
	for name, variable := range r.fromEnv {
		if _, declared := cfg.VarsFrom[name]; !declared {
			if cfg.VarsFrom == nil {
				cfg.VarsFrom = map[string]VarSource{}
			}
			cfg.VarsFrom[name] = VarSource{Env: variable}
		}
	}
}

// valid checks that src names exactly one source and a known format.
func (r *varReader) valid(ps skipFailed, key string, src VarSource) bool {
	var given []string
	for _, s := range []struct{ key, val string }{{"env", src.Env}, {"file", src.File}, {"credential", src.Credential}} {
		if s.val != "" {
			given = append(given, s.key)
		}
	}
	ok := true
	switch len(given) {
	case 0:
		ps.add(key, "", "%s: give one source: env, file or credential", key)
		ok = false
	case 1:
	default:
		ps.add(key, "", "%s: give one source, not %s", key, strings.Join(given, " and "))
		ok = false
	}
	if src.Format != "" && !slices.Contains(varFormats, src.Format) {
		ps.add(key+".format", "", "%s.format: want text, json or yaml, got %q%s", key, src.Format, DidYouMean(src.Format, varFormats))
		ok = false
	}
	if c := src.Credential; c != "" && (c == "." || c == ".." || strings.ContainsRune(c, '/')) {
		ps.add(key+".credential", "", "%s.credential: %q is not a credential name (a file name in %s, without /)", key, c, CredentialsDirEnv)
		ok = false
	}
	return ok
}

// read reads src and converts it as its format says. Its errors never hold
// what was read.
func (r *varReader) read(src VarSource) (any, error) {
	var text string
	switch {
	case src.Env != "":
		v, ok := r.environ[src.Env]
		if !ok {
			return nil, errors.New("not set")
		}
		text = v
	case src.File != "":
		path := src.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.dir, path)
		}
		b, err := readSecretFile(path)
		if err != nil {
			return nil, err
		}
		text = b
	default:
		dir := r.environ[CredentialsDirEnv]
		if dir == "" {
			return nil, fmt.Errorf("%s is not set; systemd sets it for a service with LoadCredential=%s:PATH, or set it to a directory holding a file %s", CredentialsDirEnv, src.Credential, src.Credential)
		}
		b, err := readSecretFile(filepath.Join(dir, src.Credential))
		if err != nil {
			return nil, err
		}
		text = b
	}
	return parseSecret(text, src.Format)
}

// readSecretFile reads a file less one trailing newline ("\n" or "\r\n").
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("read %s: %w", path, pe.Err)
		}
		return "", err
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// parseSecret converts text as format says. An empty text is an error: a
// header or field a client leaves out reads as "", so an empty secret
// would let it through. Parse errors say where, never what.
func parseSecret(text, format string) (any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("is empty")
	}
	switch format {
	case FormatJSON:
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("not valid JSON (at byte %d)", se.Offset)
			}
			return nil, errors.New("not valid JSON")
		}
		return v, nil
	case FormatYAML:
		var v any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			if line, _, _ := locateYAMLError([]byte(text), err); line > 0 {
				return nil, fmt.Errorf("not valid YAML (line %d)", line)
			}
			return nil, errors.New("not valid YAML")
		}
		return stringKeys(v), nil
	default:
		return text, nil
	}
}

// stringKeys turns YAML mappings with non-string keys into map[string]any,
// as vars from the config file are, so that expressions index them alike.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, item := range x {
			x[k] = stringKeys(item)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[fmt.Sprint(k)] = stringKeys(item)
		}
		return out
	case []any:
		for i, item := range x {
			x[i] = stringKeys(item)
		}
		return x
	}
	return v
}

// decodeMap decodes a mapping of structs (vars_from) entry by entry, so that
// every bad entry is reported where it stands.
func decodeMap(ps *problems, failed map[string]bool, key string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		if raw != nil {
			ps.add(key, "", "%s: want a mapping, got %s", key, valueWord(raw))
			failed[key] = true
		}
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m))
	for name, item := range m {
		elem := reflect.New(v.Type().Elem()).Elem()
		decodeInto(ps, failed, joinKey(key, name), item, elem)
		out.SetMapIndex(reflect.ValueOf(name), elem)
	}
	v.Set(out)
}
