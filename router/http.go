package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// routeHandler makes the handler for one route pattern of rt.
func (r *Router) routeHandler(rt *Runtime, pattern string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				r.log.Error("route handler panicked", zap.String("route", pattern), zap.Any("panic", v))
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"}, nil)
			}
		}()
		if r.overRate(rt, w, req) {
			return
		}
		body, status, err := readBody(w, req, int64(rt.Rules.Config.Server.MaxBody))
		if errors.Is(err, errBodyTimeout) {
			r.limited.hit("read_timeout", "HTTP request body too slow, cut off", zap.String("route", pattern), zap.String("address", req.RemoteAddr))
		}
		if err != nil {
			r.log.Debug("bad request body", zap.String("route", pattern), zap.Error(err))
			writeJSON(w, status, map[string]any{"error": err.Error()}, nil)
			return
		}
		ev := &rules.Event{
			Kind: rules.TriggerHTTP,
			Name: pattern,
			Request: rules.Request{
				Method:  req.Method,
				Path:    req.URL.Path,
				Params:  pathParams(pattern, req),
				Query:   firstValues(req.URL.Query(), false),
				Headers: firstValues(req.Header, true),
				Address: req.RemoteAddr,
				Body:    body,
			},
			Server: serverView{r},
		}
		res := rt.Rules.Evaluate(r.prepared(ev))
		r.logRuleErrors(rt, res, nil)
		fx := &httpEffects{serverEffects: serverEffects{r: r, rt: rt, event: pattern}, w: w, route: pattern}
		executed := r.execute(req.Context(), rt, fx, res.Actions, pattern, nil)
		defer r.traced(ev, executed)
		if !fx.responded {
			// Evaluation answers a failed request with respond(500) itself;
			// this is the fallback for a registry without respond.
			if slices.ContainsFunc(res.Errors, func(e *rules.RuleError) bool { return !e.Continued }) {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "rule failed"}, nil)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// readBody reads a route's body. A JSON body (no Content-Type,
// application/json or any type/subtype+json) is decoded; any other type is
// handed to the rules as a string. It answers 413 past limit, 408 when the
// body is not in within server.read_timeout, 415 for JSON in a charset
// other than UTF-8 and 400 for invalid JSON; an empty body is nil.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) (any, int, error) {
	isJSON, err := jsonContent(req.Header.Get("Content-Type"))
	if err != nil {
		return nil, http.StatusUnsupportedMediaType, err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", limit)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, http.StatusRequestTimeout, errBodyTimeout
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %v", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, 0, nil
	}
	if !isJSON {
		return string(raw), 0, nil
	}
	body, err := decodeJSON(raw)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %v", err)
	}
	return body, 0, nil
}

// errBodyTimeout is the answer to a body that did not arrive within
// server.read_timeout.
var errBodyTimeout = errors.New("request body not received in time (server.read_timeout)")

// jsonContent reports whether a Content-Type header names JSON: absent,
// application/json, or any type with a +json suffix. JSON must be UTF-8
// (RFC 8259); another charset is an error.
func jsonContent(header string) (bool, error) {
	if header == "" {
		return true, nil
	}
	mt, params, err := mime.ParseMediaType(header)
	if mt == "" && err != nil {
		return false, nil // not a media type we know: the rules get text
	}
	_, sub, _ := strings.Cut(mt, "/")
	if mt != "application/json" && !strings.HasSuffix(sub, "+json") {
		return false, nil
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return true, fmt.Errorf("JSON bodies must be UTF-8, got %s with charset %q", mt, cs)
	}
	return true, nil
}

// pathParams extracts the {name} wildcards of pattern from req.
func pathParams(pattern string, req *http.Request) map[string]string {
	var out map[string]string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
			name = strings.TrimSuffix(name, "...")
			if name == "$" {
				continue
			}
			if out == nil {
				out = map[string]string{}
			}
			out[name] = req.PathValue(name)
		}
	}
	return out
}

func firstValues(m map[string][]string, lower bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) == 0 {
			continue
		}
		if lower {
			k = strings.ToLower(k)
		}
		out[k] = v[0]
	}
	return out
}

// serverEffects executes the actions of an event that has no socket: a
// source's message. httpEffects adds the HTTP response to it.
type serverEffects struct {
	r     *Router
	rt    *Runtime // the runtime that evaluated the event
	event string   // the event's name, for log lines
}

var _ rules.Effects = (*serverEffects)(nil)

func (fx *serverEffects) Emit(string, []any) error { return fmt.Errorf("emit: %w", errNotHere) }

func (fx *serverEffects) Broadcast(rooms []string, exceptSender bool, event string, args []any) error {
	nsp := fx.r.io.Sockets()
	fx.r.metrics.broadcast(nsp, rooms, false, "")
	if len(rooms) > 0 {
		return nsp.To(toRooms(rooms)...).Emit(event, args...)
	}
	return nsp.Emit(event, args...)
}

func (fx *serverEffects) Ack([]any) error            { return fmt.Errorf("reply: %w", errNotHere) }
func (fx *serverEffects) Join([]string) error        { return fmt.Errorf("join: %w", errNotHere) }
func (fx *serverEffects) Leave([]string) error       { return fmt.Errorf("leave: %w", errNotHere) }
func (fx *serverEffects) SetState(string, any) error { return fmt.Errorf("set: %w", errNotHere) }
func (fx *serverEffects) Reject(string, any) error   { return fmt.Errorf("reject: %w", errNotHere) }
func (fx *serverEffects) Disconnect(string) error    { return fmt.Errorf("disconnect: %w", errNotHere) }

func (fx *serverEffects) Respond(int, any, map[string]string) error {
	return fmt.Errorf("respond: %w", errNotHere)
}

func (fx *serverEffects) DisconnectRoom(namespace, room string) error {
	if namespace == "" {
		namespace = "/"
	}
	return fx.r.disconnectRoom(namespace, room)
}

func (fx *serverEffects) Log(rule, level, message string) {
	fx.r.ruleLog(fx.rt, level, message, zap.String("rule", rule), zap.String("event", fx.event))
}

// httpEffects executes actions caused by one HTTP request.
type httpEffects struct {
	serverEffects
	w         http.ResponseWriter
	route     string
	responded bool
}

var _ rules.Effects = (*httpEffects)(nil)

func (fx *httpEffects) Respond(status int, body any, headers map[string]string) error {
	if fx.responded {
		return errors.New("respond: the request was already answered")
	}
	fx.responded = true
	return writeJSON(fx.w, status, body, headers)
}

func (fx *httpEffects) Log(rule, level, message string) {
	fx.r.ruleLog(fx.rt, level, message, zap.String("rule", rule), zap.String("route", fx.route))
}

// writeJSON writes body as JSON, or verbatim when it is a string and the
// headers set a Content-Type.
func writeJSON(w http.ResponseWriter, status int, body any, headers map[string]string) error {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	if s, ok := body.(string); ok && headers["Content-Type"] != "" {
		w.WriteHeader(status)
		_, err := io.WriteString(w, s)
		return err
	}
	out, err := encodeJSON(body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return fmt.Errorf("encode body: %w", err)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, err = w.Write(out)
	return err
}
