// Package envflag binds command-line flags to LICENSEFIX_* environment
// variables so that every setting can be given either way.
//
// Precedence is flag, then environment variable, then default. Parse errors
// and validation failures are *SettingError values, which name the setting by
// both its flag and its variable and never echo the value of a secret. The
// CLI turns a *SettingError into exit code 2.
package envflag
