// Package sqlfilter parses and evaluates the SQL filter and action
// language of Service Bus subscription rules, for the emulator's topics.
// It does no I/O and keeps no state: a [Filter] or [Action] is parsed once
// and then used, concurrently if need be, on any [Message].
//
// The language is the SQL-92 subset documented at
// https://learn.microsoft.com/azure/service-bus-messaging/service-bus-messaging-sql-filter
// and
// https://learn.microsoft.com/azure/service-bus-messaging/service-bus-messaging-sql-rule-action:
//
//   - comparisons = <> != > >= < <=; AND, OR, NOT (NOT binds tighter than
//     AND, AND tighter than OR); parentheses;
//   - [NOT] IN (list), [NOT] LIKE pattern [ESCAPE char] with % and _,
//     IS [NOT] NULL, EXISTS(property);
//   - arithmetic + - * / % and unary + -;
//   - constants: 'strings' (a quote doubled inside), integers (int64),
//     decimals and scientific notation (float64), TRUE, FALSE, NULL;
//   - properties: sys.Name for system properties, user.Name or a bare Name
//     for user properties; names are regular identifiers (a Unicode letter,
//     then letters, digits and underscores), [delimited] (]] inside for ])
//     or "quoted" ("" inside for "); keywords and scopes in any case;
//   - the functions newid(), property(name) and p(name);
//   - actions: SET property = expression and REMOVE property, each
//     optionally followed by a semicolon.
//
// Evaluation follows the documented rules. A user property the message
// lacks is unknown; a system property that does not exist is an error.
// Arithmetic, comparison and LIKE on an unknown operand are unknown; AND,
// OR and NOT use SQL's three-valued tables, and [Filter.Match] reports
// UNKNOWN as no match. Numbers of different kinds compare and compute as
// C# does: an integer with a double becomes a double, two integers stay an
// integer (wrapping on overflow, as unchecked C# does; dividing by zero,
// or math.MinInt64 by -1, is an error).
//
// Property names are case-insensitive, as documented: system property names
// reach [Message.System] in lower case, and user property names are passed
// as written for the [Message] to match without regard to case. Errors are
// [*SyntaxError] (with a 1-based character position) from parsing and
// [*EvalError] from evaluation; a filter that fails to evaluate should be
// taken as not matching.
//
// Where the documentation is silent, the choices are:
//
//   - A string never equals or compares with a number or a boolean; such a
//     comparison, like any other operator applied to types that C# would
//     not bind, is an [*EvalError] rather than FALSE. Either way the message
//     does not match, which is what users of Service Bus report
//     (https://github.com/MicrosoftDocs/azure-docs/issues/56144). Strings
//     and booleans take only = and <> (C# defines no ordering on them);
//     datetimes take all six comparisons.
//   - String comparison and LIKE are ordinal and case-sensitive.
//   - In LIKE only % and _ are wildcards ([ ] are literal); the escape
//     character makes the next character literal and may not end the
//     pattern.
//   - IN is unknown when no element matches and one is unknown (SQL-92).
//   - EXISTS(sys.X) is true when X is set; EXISTS(user.X) is true when the
//     message has X, even with a NULL value.
//   - AND and OR skip their right operand when the left decides, so an
//     error there goes unreported.
//   - + joins two strings; a string with any other type is an error.
//   - IS NULL accepts any value expression, not only a property.
//   - The reserved words are AND OR NOT IN LIKE ESCAPE IS NULL TRUE FALSE
//     EXISTS SET REMOVE, in filters and actions alike; write [Not] for a
//     property called Not.
//   - newid() returns the GUID as a string.
//
// Not supported: @parameters (rules carry none in the emulator), datetime
// arithmetic and TimeSpan values (a time.Duration is read as an integer of
// nanoseconds), JMS selector syntax, and the SQL Server LIKE character
// classes.
//
// Limits: an expression may be at most [MaxLength] (1,024) characters and
// an action at most [MaxStatements] (32) statements, Service Bus's quotas;
// nesting of parentheses, NOT and signs is capped at [MaxDepth] so that a
// hostile rule cannot exhaust the stack.
package sqlfilter
