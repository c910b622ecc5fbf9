// Package archtest holds the test that keeps licensefix's dependency arrows
// pointing one way (see README, "Architecture"). It has no code of its own.
package archtest
