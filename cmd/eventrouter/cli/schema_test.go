package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaFile is the committed schema that shipped configs name in their
// yaml-language-server modeline, relative to this package.
const schemaFile = "../../../schema/config.schema.json"

// TestSchemaUpToDate fails when the committed schema differs from what
// "eventrouter schema" prints. ERTEST_UPDATE_SCHEMA=1 rewrites it.
func TestSchemaUpToDate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"schema"}, WithOutput(&stdout, &stderr)); code != 0 {
		t.Fatalf("eventrouter schema exited %d: %s", code, stderr.String())
	}
	if os.Getenv("ERTEST_UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(schemaFile, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run ERTEST_UPDATE_SCHEMA=1 go test -run TestSchemaUpToDate ./cmd/eventrouter/cli to create it)", err)
	}
	if !bytes.Equal(committed, stdout.Bytes()) {
		t.Errorf("schema/config.schema.json is stale: it differs from `eventrouter schema`; rerun with ERTEST_UPDATE_SCHEMA=1 go test -run TestSchemaUpToDate ./cmd/eventrouter/cli")
	}
}

// compileSchema compiles the schema this build prints.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	var stdout bytes.Buffer
	if code := Run(context.Background(), []string{"schema"}, WithOutput(&stdout, &stdout)); code != 0 {
		t.Fatalf("eventrouter schema exited %d: %s", code, stdout.String())
	}
	doc, err := jsonschema.UnmarshalJSON(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("config.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("config.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// validateYAML converts YAML to JSON, as an editor does, and validates it.
func validateYAML(t *testing.T, s *jsonschema.Schema, src []byte) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("invalid YAML: %v", err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(doc)
}

// shippedConfigs lists the config.yaml of the repository root and of every
// example, relative to this package.
func shippedConfigs(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("../../../examples/*/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths = append([]string{"../../../config.yaml"}, paths...)
	if len(paths) < 10 {
		t.Fatalf("found only %v", paths)
	}
	return paths
}

// TestSchemaShippedConfigs validates every shipped config against the
// schema, and checks each names the committed schema in its first line.
func TestSchemaShippedConfigs(t *testing.T) {
	s := compileSchema(t)
	good, err := filepath.Glob("../../../rules/testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(shippedConfigs(t), good...) {
		t.Run(strings.TrimPrefix(path, "../../../"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateYAML(t, s, src); err != nil {
				t.Errorf("the schema refuses %s: %v", path, err)
			}
			if strings.Contains(path, "/testdata/") {
				return
			}
			first, _, _ := strings.Cut(string(src), "\n")
			ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
			if !ok {
				t.Fatalf("first line is %q, want # yaml-language-server: $schema=PATH", first)
			}
			want, _ := filepath.Abs(schemaFile)
			if got, _ := filepath.Abs(filepath.Join(filepath.Dir(path), ref)); got != want {
				t.Errorf("the modeline names %s, which is %s, not the committed schema %s", ref, got, want)
			}
		})
	}
}

// TestSchemaAgreesWithLoader checks snippets against both the schema and
// the loader: the schema must accept what the loader accepts, and refuse
// the mistakes it can see (misspelt keys, wrong types, unknown words).
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	cases := []struct {
		name string
		yaml string
		ok   bool
	}{
		{"empty", "{}", true},
		{"methiods", "server:\n  cors:\n    methiods: [GET]\n", false},
		{"unknown top-level key", "severs: {}\n", false},
		{"duration with unit", "socketio:\n  ping_interval: 2m\n", true},
		{"composite duration", "server:\n  shutdown_timeout: 1m30s\n", true},
		{"zero duration", "socketio:\n  recovery:\n    max_disconnection: \"0\"\n", true},
		{"duration without unit", "socketio:\n  ping_interval: 25\n", false},
		{"duration in words", "socketio:\n  ping_interval: 2 minutes\n", false},
		{"size as string", "server:\n  max_body: 1MiB\n", true},
		{"size in KB", "server:\n  max_body: 512KB\n", true},
		{"size as number", "server:\n  max_body: 1048576\n", true},
		{"size as float", "socketio:\n  max_payload: 1e6\n", true},
		{"size as list", "server:\n  max_body: [1]\n", false},
		{"size unit unknown", "server:\n  max_body: 5 apples\n", false},
		{"log level word", "log:\n  level: debug\n", true},
		{"log level unknown", "log:\n  level: verbose\n", false},
		{"transport unknown", "socketio:\n  transports: [websockets]\n", false},
		{"list as a single value", "server:\n  cors:\n    origins: \"*\"\n", false},
		{"vars of any shape", "vars:\n  users: {ann: {admin: true}}\n  limit: 3\n", true},
		{"vars_from", "vars_from:\n  users: {env: USERS, format: json}\n", true},
		{"vars_from bad format", "vars_from:\n  users: {env: USERS, format: xml}\n", false},
		{"backend", "backends:\n  orders: {url: \"http://127.0.0.1:8080/hook\", timeout: 2s, headers: {Authorization: x}}\n", true},
		{"backend without url", "backends:\n  orders: {timeout: 2s}\n", false},
		{"nats plugin section", "plugins:\n  nats: {url: \"nats://127.0.0.1:4222\", max_reconnects: -1}\n", true},
		{"unknown plugin", "plugins:\n  natz: {url: x}\n", false},
		{"nats plugin typo", "plugins:\n  nats: {ulr: x}\n", false},
		{"section left empty", "vars:\ncluster:\n", true},
		{"rule forms", `rules:
  - {name: c, on: connection, do: ['log("c")']}
  - {name: d, on: disconnect, do: ['log("d")']}
  - {name: any, on: "*", do: ['log(event)']}
  - {name: ev, on: "chat:message", do: ['log(data)']}
  - {name: route, on: "GET /users/{id}", do: ['respond(200, request.params)']}
  - {name: nats, on: "nats:orders.>", do: ['log(subject)']}
  - name: full
    on: send
    namespace: /
    when: data != nil
    do: ['log(data)']
    else: ['log("none")']
    final: true
    on_error: continue
    limits: {events_per_second: 5, events_burst: 10}
`, true},
		{"rule without on", "rules:\n  - {name: x, do: ['log(1)']}\n", false},
		{"rule misspelt key", "rules:\n  - {name: x, on: a, whn: 'true', do: ['log(1)']}\n", false},
		{"rule on reserved event", "rules:\n  - {name: x, on: connect, do: ['log(1)']}\n", false},
		{"rule on_error unknown", "rules:\n  - {name: x, on: a, on_error: ignore, do: ['log(1)']}\n", false},
		{"jwt algorithm", "auth:\n  jwt: {algorithms: [HS256], secret_env: K}\n", true},
		{"jwt algorithm none", "auth:\n  jwt: {algorithms: [none], secret_env: K}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			env := func() []string { return []string{"USERS=[]", "K=0123456789abcdef0123456789abcdef"} }
			_, loadErr := rules.Load(path, newTestApp().registry(), rules.LoadOptions{Environ: env})
			schemaErr := validateYAML(t, s, []byte(c.yaml))
			if (loadErr == nil) != c.ok {
				t.Errorf("the loader: got %v, want ok=%v", loadErr, c.ok)
			}
			if (schemaErr == nil) != c.ok {
				t.Errorf("the schema: got %v, want ok=%v", schemaErr, c.ok)
			}
		})
	}
}

// newTestApp returns an app with only the built-in plugins.
func newTestApp() *app { return &app{stdout: os.Stdout, stderr: os.Stderr} }
