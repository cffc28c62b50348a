package eventrouter_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// TestREADMEDocumentsEverything keeps the README's references true: every
// config key and every function a rule can call must appear in it.
func TestREADMEDocumentsEverything(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			key := f.Tag.Get("koanf")
			if prefix != "" {
				key = prefix + "." + key
			}
			if f.Type.Kind() == reflect.Struct {
				walk(key, f.Type)
				continue
			}
			if key != "rules" {
				keys = append(keys, key)
			}
		}
	}
	walk("", reflect.TypeOf(rules.Config{}))
	for _, k := range keys {
		if !strings.Contains(text, "`"+k+"`") {
			t.Errorf("README.md does not document config key %s", k)
		}
	}
	for _, p := range builtin.Registry().Plugins() {
		for _, f := range p.Functions {
			if !strings.Contains(text, "`"+f.Name+"(") {
				t.Errorf("README.md does not document %s (plugin %s)", f.Usage, p.Name)
			}
		}
	}
}
