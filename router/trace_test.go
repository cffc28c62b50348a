package router

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// TestPrepareAndTrace proves Options.Prepare sees the event before it is
// evaluated and can change what the rules read, and Options.Trace gets the
// same event once its actions ran, with the actions in the order executed.
func TestPrepareAndTrace(t *testing.T) {
	rs := loadReloadTestConfig(t, `vars:
  who: config
rules:
  - name: hello
    on: POST /hello
    do:
      - log("hello", vars.who)
      - 'respond(201, {"who": vars.who, "path": request.path})'
`)
	type traced struct {
		ev       *rules.Event
		executed []rules.Action
	}
	var prepared []*rules.Event
	var traces []traced
	r, err := New(rs, Options{
		Logger: zap.NewNop(),
		Prepare: func(ev *rules.Event) {
			prepared = append(prepared, ev)
			ev.Vars = map[string]any{"who": "prepared"}
		},
		Trace: func(ev *rules.Event, executed []rules.Action) {
			traces = append(traces, traced{ev, executed})
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/hello", strings.NewReader(`{}`)))
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"who":"prepared"`) {
		t.Fatalf("response %d %s, want 201 with who prepared", w.Code, w.Body)
	}
	if len(prepared) != 1 || len(traces) != 1 {
		t.Fatalf("prepared %d and traced %d events, want 1 each", len(prepared), len(traces))
	}
	tr := traces[0]
	if tr.ev != prepared[0] || tr.ev.Name != "POST /hello" || tr.ev.Request.Path != "/hello" {
		t.Errorf("traced event %+v, want the prepared POST /hello", tr.ev)
	}
	var kinds []string
	for _, a := range tr.executed {
		kinds = append(kinds, a.Kind)
	}
	if strings.Join(kinds, ",") != "log,respond" || tr.executed[0].Message != "hello prepared" || tr.executed[1].Status != 201 {
		t.Errorf("executed %+v, want log \"hello prepared\" then respond 201", tr.executed)
	}

	// A request no route serves is not an event: nothing is prepared or traced.
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hello", nil))
	if w.Code != http.StatusMethodNotAllowed || len(prepared) != 1 || len(traces) != 1 {
		t.Errorf("GET /hello: %d, prepared %d, traced %d; want 405 and nothing new", w.Code, len(prepared), len(traces))
	}
}
