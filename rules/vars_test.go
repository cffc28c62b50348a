package rules_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
)

// secret is the value every secret source in these tests holds; no error
// may ever contain it.
const secret = "s3cret-Value-42"

// TestVarsFrom loads configs whose vars come from the environment, files and
// credentials. In files and environ, $DIR stands for a temporary directory
// that holds the config and the files.
func TestVarsFrom(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		files    map[string]string // relative to $DIR
		environ  []string
		standIns map[string]any
		want     map[string]any    // vars after loading
		wantFrom map[string]string // vars_from name -> env source, for EVENTROUTER_VARS_*
		wantErr  []string          // substrings of the problems, one each, in order
	}{
		{
			name:     "EVENTROUTER_VARS_ sets a lower-cased var, as a string",
			environ:  []string{"EVENTROUTER_VARS_API_KEY=" + secret, "EVENTROUTER_VARS_PORT=8080"},
			want:     map[string]any{"api_key": secret, "port": "8080"},
			wantFrom: map[string]string{"api_key": "EVENTROUTER_VARS_API_KEY", "port": "EVENTROUTER_VARS_PORT"},
		},
		{
			name:    "EVENTROUTER_VARS_ overrides vars from the file",
			config:  "vars: {api_key: dev, admins: [ann]}\n",
			environ: []string{"EVENTROUTER_VARS_API_KEY=" + secret},
			want:    map[string]any{"api_key": secret, "admins": []any{"ann"}},
		},
		{
			name:    "EVENTROUTER_VARS_ without a name",
			environ: []string{"EVENTROUTER_VARS_=" + secret},
			wantErr: []string{"environment variable EVENTROUTER_VARS_: want EVENTROUTER_VARS_NAME"},
		},
		{
			name:    "EVENTROUTER_VARS_ with a dot would nest",
			environ: []string{"EVENTROUTER_VARS_A.B=" + secret},
			wantErr: []string{"environment variable EVENTROUTER_VARS_A.B: want EVENTROUTER_VARS_NAME, with NAME made of letters, digits and _"},
		},
		{
			name:    "EVENTROUTER_VAR_ is a typo",
			environ: []string{"EVENTROUTER_VAR_API_KEY=" + secret},
			wantErr: []string{"unknown environment variable EVENTROUTER_VAR_API_KEY, did you mean EVENTROUTER_VARS_API_KEY?"},
		},
		{
			name:    "EVENTROUTER_VARS without its _",
			environ: []string{"EVENTROUTER_VARSAPI_KEY=" + secret},
			wantErr: []string{"unknown environment variable EVENTROUTER_VARSAPI_KEY, did you mean EVENTROUTER_VARS_API_KEY?"},
		},
		{
			name:    "a var without VARS_",
			environ: []string{"EVENTROUTER_API_KEY=" + secret},
			wantErr: []string{"unknown environment variable EVENTROUTER_API_KEY; to set vars.api_key, write EVENTROUTER_VARS_API_KEY"},
		},
		{
			name:    "a config key's typo still suggests the key",
			environ: []string{"EVENTROUTER_SERVER_LISTN=:1"},
			wantErr: []string{"unknown environment variable EVENTROUTER_SERVER_LISTN, did you mean EVENTROUTER_SERVER_LISTEN?"},
		},
		{
			name:    "two EVENTROUTER_VARS_ variables for one var",
			environ: []string{"EVENTROUTER_VARS_KEY=" + secret, "EVENTROUTER_VARS_key=" + secret},
			wantErr: []string{"environment variables EVENTROUTER_VARS_KEY and EVENTROUTER_VARS_key both set vars.key"},
		},
		{
			name:    "env",
			config:  "vars_from:\n  api_key: {env: API_KEY}\n",
			environ: []string{"API_KEY=" + secret},
			want:    map[string]any{"api_key": secret},
		},
		{
			name:    "env keeps a trailing newline and inner spaces",
			config:  "vars_from:\n  api_key: {env: API_KEY}\n",
			environ: []string{"API_KEY= " + secret + "\n"},
			want:    map[string]any{"api_key": " " + secret + "\n"},
		},
		{
			name:    "env unset",
			config:  "vars_from:\n  api_key: {env: API_KEY}\n",
			wantErr: []string{"config.yaml:2:3: vars_from.api_key: environment variable API_KEY: not set"},
		},
		{
			name:    "env empty",
			config:  "vars_from:\n  api_key: {env: API_KEY}\n",
			environ: []string{"API_KEY="},
			wantErr: []string{"vars_from.api_key: environment variable API_KEY: is empty"},
		},
		{
			name:    "env as JSON",
			config:  "vars_from:\n  users: {env: USERS, format: json}\n",
			environ: []string{`USERS={"` + secret + `": "ann"}`},
			want:    map[string]any{"users": map[string]any{secret: "ann"}},
		},
		{
			name:   "file relative to the config, one trailing newline dropped",
			config: "vars_from:\n  api_key: {file: secrets/key}\n",
			files:  map[string]string{"secrets/key": secret + "\n\n"},
			want:   map[string]any{"api_key": secret + "\n"},
		},
		{
			name:   "file with a CRLF ending",
			config: "vars_from:\n  api_key: {file: key.txt}\n",
			files:  map[string]string{"key.txt": secret + "\r\n"},
			want:   map[string]any{"api_key": secret},
		},
		{
			name:   "absolute file",
			config: "vars_from:\n  api_key: {file: $DIR/elsewhere/key}\n",
			files:  map[string]string{"elsewhere/key": secret},
			want:   map[string]any{"api_key": secret},
		},
		{
			name:   "a .yaml file is text unless format says otherwise",
			config: "vars_from:\n  raw: {file: users.yaml}\n",
			files:  map[string]string{"users.yaml": "t-1: ann\n"},
			want:   map[string]any{"raw": "t-1: ann"},
		},
		{
			name:   "yaml file",
			config: "vars_from:\n  users: {file: users.yaml, format: yaml}\n",
			files:  map[string]string{"users.yaml": secret + ": ann\n1: bob\nlist: [a, 2]\n"},
			want:   map[string]any{"users": map[string]any{secret: "ann", "1": "bob", "list": []any{"a", 2}}},
		},
		{
			name:   "json file",
			config: "vars_from:\n  users: {file: users.json, format: json}\n",
			files:  map[string]string{"users.json": `{"` + secret + `": {"admin": true}}`},
			want:   map[string]any{"users": map[string]any{secret: map[string]any{"admin": true}}},
		},
		{
			name:    "invalid json says where, not what",
			config:  "vars_from:\n  users: {file: users.json, format: json}\n",
			files:   map[string]string{"users.json": `{"a": ` + secret + `}`},
			wantErr: []string{"vars_from.users: file users.json: not valid JSON (at byte 7)"},
		},
		{
			name:    "invalid yaml says where, not what",
			config:  "vars_from:\n  users: {file: users.yaml, format: yaml}\n",
			files:   map[string]string{"users.yaml": "a: b\n" + secret + ": [\n"},
			wantErr: []string{"vars_from.users: file users.yaml: not valid YAML (line 2)"},
		},
		{
			name:    "missing file",
			config:  "vars_from:\n  tokens: {file: tokens.yaml}\n",
			wantErr: []string{"config.yaml:2:3: vars_from.tokens: file tokens.yaml: read $DIR/tokens.yaml: no such file or directory"},
		},
		{
			name:    "empty file",
			config:  "vars_from:\n  tokens: {file: tokens}\n",
			files:   map[string]string{"tokens": "\n"},
			wantErr: []string{"vars_from.tokens: file tokens: is empty"},
		},
		{
			name:    "credential",
			config:  "vars_from:\n  signing: {credential: signing-key}\n",
			files:   map[string]string{"creds/signing-key": secret + "\n"},
			environ: []string{"CREDENTIALS_DIRECTORY=$DIR/creds"},
			want:    map[string]any{"signing": secret},
		},
		{
			name:    "credential without CREDENTIALS_DIRECTORY",
			config:  "vars_from:\n  signing: {credential: signing-key}\n",
			wantErr: []string{"vars_from.signing: credential signing-key: CREDENTIALS_DIRECTORY is not set; systemd sets it for a service with LoadCredential=signing-key:PATH"},
		},
		{
			name:    "missing credential",
			config:  "vars_from:\n  signing: {credential: signing-key}\n",
			environ: []string{"CREDENTIALS_DIRECTORY=$DIR/creds"},
			wantErr: []string{"vars_from.signing: credential signing-key: read $DIR/creds/signing-key: no such file or directory"},
		},
		{
			name:    "credential name with a slash",
			config:  "vars_from:\n  signing: {credential: ../config.yaml}\n",
			environ: []string{"CREDENTIALS_DIRECTORY=$DIR/creds"},
			wantErr: []string{`vars_from.signing.credential: "../config.yaml" is not a credential name`},
		},
		{
			name:    "set in vars and vars_from",
			config:  "vars:\n  api_key: dev\nvars_from:\n  api_key: {env: API_KEY}\n",
			environ: []string{"API_KEY=" + secret},
			wantErr: []string{"config.yaml:4:3: vars.api_key and vars_from.api_key both set vars.api_key; keep one"},
		},
		{
			name:    "set by EVENTROUTER_VARS_ and vars_from",
			config:  "vars_from:\n  api_key: {env: API_KEY}\n",
			environ: []string{"API_KEY=" + secret, "EVENTROUTER_VARS_API_KEY=" + secret},
			wantErr: []string{"vars_from.api_key and the environment variable EVENTROUTER_VARS_API_KEY both set vars.api_key; keep one"},
		},
		{
			name:    "misspelt key in an entry",
			config:  "vars_from:\n  tokens:\n    fiel: tokens.yaml\n",
			files:   map[string]string{"tokens.yaml": secret},
			wantErr: []string{"config.yaml:3:5: unknown key vars_from.tokens.fiel, did you mean file?"},
		},
		{
			name:   "a misspelt source is still read, as the key it was meant to be",
			config: "vars_from:\n  tokens:\n    fiel: missing.yaml\n",
			wantErr: []string{
				"config.yaml:2:3: vars_from.tokens: file missing.yaml: read $DIR/missing.yaml: no such file or directory",
				"config.yaml:3:5: unknown key vars_from.tokens.fiel, did you mean file?",
			},
		},
		{
			name:    "misspelt format",
			config:  "vars_from:\n  users: {env: USERS, format: jsn}\n",
			environ: []string{"USERS=" + secret},
			wantErr: []string{`vars_from.users.format: want text, json or yaml, got "jsn", did you mean json?`},
		},
		{
			name:    "two sources",
			config:  "vars_from:\n  api_key: {env: API_KEY, file: key}\n",
			wantErr: []string{"vars_from.api_key: give one source, not env and file"},
		},
		{
			name:    "an entry that is not a mapping",
			config:  "vars_from:\n  api_key: API_KEY\n",
			wantErr: []string{`config.yaml:2:3: vars_from.api_key: want a mapping, got the string "API_KEY"`},
		},
		{
			name:    "vars_from that is not a mapping",
			config:  "vars_from: [API_KEY]\n",
			wantErr: []string{"vars_from: want a mapping, got a list"},
		},
		{
			name:     "stand-ins replace every source, which is not read",
			config:   "vars_from:\n  api_key: {env: API_KEY}\n  signing: {credential: signing-key}\nvars: {region: eu}\n",
			environ:  []string{"API_KEY=" + secret, "EVENTROUTER_VARS_OTHER=" + secret},
			standIns: map[string]any{"api_key": "test-key", "signing": "test-signing", "region": "test"},
			want:     map[string]any{"api_key": "test-key", "signing": "test-signing", "region": "test"},
		},
		{
			name:     "a missing stand-in",
			config:   "vars_from:\n  api_key: {env: API_KEY}\n",
			environ:  []string{"API_KEY=" + secret},
			standIns: map[string]any{},
			wantErr:  []string{"vars_from.api_key: rule tests never read secrets (environment variable API_KEY); give api_key a stand-in value under vars: at the top of the test file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			expand := func(s string) string { return strings.ReplaceAll(s, "$DIR", dir) }
			for name, content := range tc.files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			config := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(config, []byte(expand(tc.config)), 0o600); err != nil {
				t.Fatal(err)
			}
			var environ []string
			for _, kv := range tc.environ {
				environ = append(environ, expand(kv))
			}
			opts := rules.LoadOptions{Environ: func() []string { return environ }, StandIns: tc.standIns}
			cfg, err := rules.LoadFile(config, opts)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadFile: no error, want %q", tc.wantErr)
				}
				msg := err.Error()
				if strings.Contains(msg, secret) {
					t.Errorf("the error shows the secret:\n%s", msg)
				}
				lines := strings.Split(msg, "\n")
				if len(lines) != len(tc.wantErr) {
					t.Fatalf("error\n%s\nhas %d problem(s), want %d: %q", msg, len(lines), len(tc.wantErr), tc.wantErr)
				}
				for i, want := range tc.wantErr {
					if !strings.Contains(lines[i], expand(want)) {
						t.Errorf("problem %d:\n%s\nlacks %q", i, lines[i], expand(want))
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if !reflect.DeepEqual(cfg.Vars, tc.want) {
				t.Errorf("vars = %#v, want %#v", cfg.Vars, tc.want)
			}
			for name, variable := range tc.wantFrom {
				if got := cfg.VarsFrom[name]; got != (rules.VarSource{Env: variable}) {
					t.Errorf("vars_from[%s] = %+v, want env %s", name, got, variable)
				}
			}
		})
	}
}

// TestVarsFromProcessEnvironment reads a credential and a variable through
// the real process environment, as the daemon does (LoadOptions.Environ
// nil).
func TestVarsFromProcessEnvironment(t *testing.T) {
	creds := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	t.Setenv("ER_TEST_API_KEY", secret)
	if err := os.WriteFile(filepath.Join(creds, "users"), []byte(`{"t-1": "ann"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, "vars_from:\n  users: {credential: users, format: json}\n  api_key: {env: ER_TEST_API_KEY}\n")
	cfg, err := rules.LoadFile(path, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"users": map[string]any{"t-1": "ann"}, "api_key": secret}
	if !reflect.DeepEqual(cfg.Vars, want) {
		t.Errorf("vars = %#v, want %#v", cfg.Vars, want)
	}
}

// TestSecrets checks what Config.Secrets returns for redaction.
func TestSecrets(t *testing.T) {
	tests := []struct {
		name string
		cfg  rules.Config
		want []string
	}{
		{"none", rules.Config{Vars: map[string]any{"region": "eu"}}, nil},
		{
			name: "only vars named by vars_from, longest first",
			cfg: rules.Config{
				Vars:     map[string]any{"region": "eu", "a": "short", "b": "much longer", "c": "short", "d": ""},
				VarsFrom: map[string]rules.VarSource{"a": {Env: "A"}, "b": {Env: "B"}, "c": {Env: "C"}, "d": {Env: "D"}},
			},
			want: []string{"much longer", "short"},
		},
		{
			name: "every string and key of a structure, not numbers",
			cfg: rules.Config{
				Vars:     map[string]any{"users": map[string]any{"tok-1": "ann", "n": 7.0, "l": []any{"x1", true}}},
				VarsFrom: map[string]rules.VarSource{"users": {File: "u.yaml", Format: "yaml"}},
			},
			want: []string{"tok-1", "ann", "x1", "l", "n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Secrets(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Secrets() = %q, want %q", got, tc.want)
			}
		})
	}
}
