// Command licensefix consumes "user license fixed" messages from Azure
// Service Bus and asks Microsoft Graph to reprocess each user's license
// assignments. It also carries the operator tools (send, dlq), a Service Bus
// emulator, a Graph simulator and a self-contained demo (dev).
//
// See README.md for the settings of each subcommand.
package main
