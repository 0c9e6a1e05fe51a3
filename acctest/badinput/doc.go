// Package badinput is the bad-input corpus of the installer core: a table
// of hostile or broken derivatives, registries, specs and local conditions,
// each with the exact error text installer.Run must give and a check that
// the failed run left nothing behind (no partial disk in the output
// directory, no temporary files, no layer cache).
//
// It exists because the suite turns images built by others into disks: a
// crafted layer must never make the installer write outside the image, and
// a failure must never leave a half-written disk that a later step could
// mistake for a good one. The package holds only tests; see
// docs/security.md for the threat model these cases exercise.
package badinput
