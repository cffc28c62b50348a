// Package actions holds eventrouter's built-in action plugins, one package
// each. Every plugin registers through the same public API a third-party
// plugin would use: rules.Registry.Register(pkg.Plugin()).
package actions
