// Package ruletest runs table-driven tests of eventrouter rules: an event
// goes in, the actions the rules yield come out, and they are compared with
// what the table expects. Evaluation is pure (rules.Ruleset.Evaluate):
// nothing is sent, no socket or port is opened.
//
// The same tables run three ways: `eventrouter test` runs YAML test files,
// `eventrouter check --test` runs a config's own test file before a reload,
// and Go tests call Run, RunAll or Check.
//
// # Test files
//
// A test file is named NAME_test.yaml and sits next to the config it
// tests, NAME.yaml, or names it with a config key (relative to the test
// file). It holds a list of cases:
//
//	config: config.yaml            # optional: the sibling config by default
//	tests:
//	  - name: chat is broadcast to everyone
//	    event:
//	      on: send_message         # event name, connection, disconnect or "METHOD /path"
//	      data: {user: bob, text: hi}
//	    expect:
//	      actions:                 # the exact list, in order
//	        - {kind: log, message: '受信メッセージ: {"text":"hi","user":"bob"}'}
//	        - {kind: broadcast, event: receive_message, args: [{user: bob, text: hi}]}
//
//	  - name: POST /post echoes the body
//	    event:
//	      on: POST /post
//	      body: {name: taro}
//	    expect:
//	      contains:                # a subsequence of partial matches
//	        - {kind: respond, status: 200, body: {message: 受け取りました}}
//
// A top-level vars key gives values for every case: it stands in for the
// config's secrets, which rule tests never read (no vars_from source, no
// EVENTROUTER_VARS_* variable), and overrides its other vars. A config
// with a vars_from name the file gives no value for does not load:
//
//	vars:
//	  api_key: test-key            # stands in for vars_from.api_key
//	  users: {t-ann: ann}          # for a structured secret (format: yaml)
//
// So a secret can never appear in test output, `eventrouter check --test`
// included, and a test file runs the same everywhere.
//
// A case has these keys; only name, event.on and one expectation are
// required.
//
//	name       unique within the file
//	event:
//	  on         the trigger: a Socket.IO event name, connection, disconnect,
//	             or an HTTP route "METHOD /path", either the pattern as the
//	             config writes it (GET /users/{id}) or a concrete path
//	             (GET /users/42), resolved to its pattern as the daemon does
//	  namespace  the socket's namespace (default /)
//	  data       the single argument of a socket event: args: [data]
//	  args       every argument, when there are several
//	  ack        true when the client waits for an acknowledgement
//	  body       the decoded JSON body of a request
//	  request    method, path, params, query, headers, address
//	  reason     why a socket disconnected
//	  time       when the event happens (RFC 3339, default now): the clock
//	             jwt() checks exp and nbf against
//	socket:      the sending socket
//	  id         default "socket-1"
//	  rooms      default [id], the socket's own room
//	  handshake  auth, query, headers, address, secure
//	  state      what earlier set() actions left
//	vars         merged over the config's vars and the file's
//	server:      what room_size and socket_rooms read; the whole truth
//	  rooms      room -> socket ids, in the event's namespace (/ for routes)
//	  namespaces namespace -> {rooms: ...}, for other namespaces
//	expect:
//	  actions    the exact list of actions
//	  contains   actions that must appear in order, others allowed between
//	  no_actions true: the event yields nothing
//	  error      a substring of a run-time rule error the event must cause
//	  matched    the exact list of rules whose trigger matched and that ran
//	             their do list, or their else list when when was false
//
// An expected action has the fields of rules.Action: kind, rule,
// namespace, event, args, rooms, status, body, headers, message, key,
// value, level, url.
//
// The actions are exactly those the daemon executes, in its order. That
// includes what evaluation adds on its own: the reject of a connection
// whose rules failed (socketio.error_message), the error ack of an event
// whose rules failed or that no rule answered (socketio.ack_unanswered),
// and the 500 of a route whose rules failed.
//
// # Comparing
//
// Inputs are converted as the wire would: data, args, body and handshake
// auth hold JSON values, so numbers are float64, as the daemon sees them.
// Expected and actual values compare by JSON meaning: 1 equals 1.0, and a
// list of strings equals the same list of any.
//
// In actions, every field an expected action leaves out must be empty in
// the actual action, except rule and level, compared only when given. In
// contains, only the given fields are compared, and maps and lists inside
// them are JSON subsets: a map needs only the expected keys, a list the
// same length with each item a subset.
//
// Without expect.error, any run-time rule error fails the case.
//
// # Output
//
// A failing case prints a diff of its actions, one compact JSON action a
// line: "- " for expected actions that are missing, "+ " for actual
// actions that were not expected, and "  " for actions as expected:
//
//	--- FAIL: config_test.yaml/chat is broadcast to everyone
//	    actions differ (-want +got):
//	      {"kind":"log","message":"受信メッセージ: {\"text\":\"hi\",\"user\":\"bob\"}"}
//	    - {"kind":"broadcast","event":"receive_message","args":[{"text":"hi","user":"bob"}]}
//	    + {"kind":"emit","event":"receive_message","args":[{"text":"hi","user":"bob"}]}
//	    action 2: kind: want "broadcast", got "emit"
//
// When a changed stretch has as many missing as unexpected actions, the
// lines after the diff name each field that differs, down to nested keys.
//
// # Coverage
//
// A rule is exercised when a case's event matched its trigger and its when
// condition held, or when it failed at run time. Rules of a config that no
// case of any test file exercises are reported; RunAll fails on them.
package ruletest
