// Package sbconn builds the azservicebus client that licensefix run, send and
// dlq share, from either a connection string or a namespace with an Azure
// credential (the caller's, or the one internal/azcred chooses from the
// environment).
//
// Exactly one of ConnectionString and Namespace must be set. Errors name the
// LICENSEFIX_* setting at fault and never include the connection string or
// its key.
package sbconn
