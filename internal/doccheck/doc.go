// Package doccheck holds no code: its tests check the documentation
// (README.md and docs/*.md) as a reader meets it, for example that every
// relative link leads somewhere. The checks of facts the code holds (the
// replies, the configuration keys) live beside that code, in filters and
// rules.
package doccheck
