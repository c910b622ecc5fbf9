package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// SettingError is a bad setting. Its message names the environment variable
// and the flag; a secret's value is never included.
type SettingError struct {
	Env  string // e.g. LICENSEFIX_CONCURRENCY
	Flag string // e.g. concurrency (without dashes)
	Err  error
}

// Error names the variable and the flag, then the problem.
func (e *SettingError) Error() string {
	if e.Flag == "" {
		return fmt.Sprintf("invalid setting %s: %v", e.Env, e.Err)
	}
	return fmt.Sprintf("invalid setting %s (--%s): %v", e.Env, e.Flag, e.Err)
}

// Unwrap returns the underlying problem.
func (e *SettingError) Unwrap() error { return e.Err }

// IsSettingError reports whether err is, or wraps, a *SettingError.
func IsSettingError(err error) bool {
	var se *SettingError
	return errors.As(err, &se)
}

type setting struct {
	flag, env, usage, def string
	secret, isBool        bool
	set                   func(string) error
	fromFlag              bool
	given                 bool // set from its variable or its flag
}

// Set is a group of settings for one subcommand.
type Set struct {
	name     string
	output   io.Writer
	fs       *flag.FlagSet
	getenv   func(string) string
	settings []*setting
	byFlag   map[string]*setting
	byEnv    map[string]*setting
}

// New returns an empty Set for the subcommand name. getenv looks up
// environment variables (os.Getenv in production, a map in tests); usage and
// flag errors are written to output.
func New(name string, getenv func(string) string, output io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	s := &Set{name: name, output: output, fs: fs, getenv: getenv, byFlag: map[string]*setting{}, byEnv: map[string]*setting{}}
	fs.Usage = func() { s.PrintUsage(output) }
	return s
}

// FlagSet exposes the underlying flag set, e.g. to read positional arguments.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// Args returns the positional arguments left after Parse.
func (s *Set) Args() []string { return s.fs.Args() }

// Getenv looks up an environment variable with the getenv given to New, for
// settings read by libraries rather than bound here (AZURE_* variables).
func (s *Set) Getenv(key string) string { return s.getenv(key) }

type funcValue struct {
	st *setting
}

// IsBoolFlag lets "--flag" stand for "--flag=true" on boolean settings.
func (v funcValue) IsBoolFlag() bool { return v.st.isBool }

func (v funcValue) String() string { return "" }
func (v funcValue) Set(x string) error {
	v.st.fromFlag, v.st.given = true, true
	return v.st.set(x)
}

func (s *Set) add(flagName, env, def, usage string, secret bool, set func(string) error) *setting {
	st := &setting{flag: flagName, env: env, usage: usage, def: def, secret: secret, set: set}
	s.settings = append(s.settings, st)
	if flagName != "" {
		s.byFlag[flagName] = st
		s.fs.Var(funcValue{st}, flagName, usage)
	}
	if env != "" {
		s.byEnv[env] = st
	}
	return st
}

// String binds a string setting with a default.
func (s *Set) String(p *string, flagName, env, def, usage string) {
	*p = def
	s.add(flagName, env, def, usage, false, func(v string) error { *p = v; return nil })
}

// Secret binds a string setting whose value must never be printed
// (connection strings, keys). Usage shows only whether it is set.
func (s *Set) Secret(p *string, flagName, env, usage string) {
	s.add(flagName, env, "", usage, true, func(v string) error { *p = v; return nil })
}

// Int binds an integer setting.
func (s *Set) Int(p *int, flagName, env string, def int, usage string) {
	*p = def
	s.add(flagName, env, strconv.Itoa(def), usage, false, func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*p = n
		return nil
	})
}

// Float binds a floating-point setting.
func (s *Set) Float(p *float64, flagName, env string, def float64, usage string) {
	*p = def
	s.add(flagName, env, strconv.FormatFloat(def, 'g', -1, 64), usage, false, func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*p = f
		return nil
	})
}

// Duration binds a duration setting ("30s", "1m30s"); a bare integer is
// taken as seconds.
func (s *Set) Duration(p *time.Duration, flagName, env string, def time.Duration, usage string) {
	*p = def
	s.add(flagName, env, def.String(), usage, false, func(v string) error {
		v = strings.TrimSpace(v)
		if n, err := strconv.Atoi(v); err == nil {
			*p = time.Duration(n) * time.Second
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 1m)", v)
		}
		*p = d
		return nil
	})
}

// Bool binds a boolean setting ("true", "false", "1", "0").
func (s *Set) Bool(p *bool, flagName, env string, def bool, usage string) {
	*p = def
	st := s.add(flagName, env, strconv.FormatBool(def), usage, false, func(v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a boolean", v)
		}
		*p = b
		return nil
	})
	st.isBool = true
}

// List binds a comma-separated list setting; empty items are dropped.
func (s *Set) List(p *[]string, flagName, env string, def []string, usage string) {
	*p = def
	s.add(flagName, env, strings.Join(def, ","), usage, false, func(v string) error {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*p = out
		return nil
	})
}

// Parse applies environment variables, then the flags in args. It returns
// flag.ErrHelp for -h/--help (after printing the usage to the Set's output)
// and a *SettingError for a bad value, without printing the usage: a
// mistake gets one line naming the setting, not a page of settings.
func (s *Set) Parse(args []string) error {
	for _, st := range s.settings {
		if st.env == "" {
			continue
		}
		if v := s.getenv(st.env); v != "" {
			st.given = true
			if err := st.set(v); err != nil {
				return &SettingError{Env: st.env, Flag: st.flag, Err: s.redact(st, err)}
			}
		}
	}
	// Wrap flag errors so they also name the variable. The flag package
	// calls Usage on every error; only -h/--help prints it.
	s.fs.SetOutput(io.Discard)
	usage := s.fs.Usage
	s.fs.Usage = func() {}
	err := s.fs.Parse(args)
	s.fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			s.PrintUsage(s.output)
			return err
		}
		for _, st := range s.settings {
			if st.flag != "" && strings.Contains(err.Error(), "-"+st.flag+":") {
				return &SettingError{Env: st.env, Flag: st.flag, Err: s.redact(st, err)}
			}
		}
		return &SettingError{Env: "arguments", Err: err}
	}
	return nil
}

func (s *Set) redact(st *setting, err error) error {
	if st.secret || err == nil {
		return errors.New("malformed value (not shown: secret)")
	}
	return err
}

// Invalid returns a *SettingError for the setting bound to env, for
// validation done after Parse.
func (s *Set) Invalid(env string, format string, args ...any) error {
	st := s.byEnv[env]
	flagName := ""
	if st != nil {
		flagName = st.flag
	}
	return &SettingError{Env: env, Flag: flagName, Err: fmt.Errorf(format, args...)}
}

// Given reports whether the setting bound to env was given after Parse,
// by its variable (non-empty) or its flag (even empty), as opposed to
// holding its default. Settings that exclude one another use it.
func (s *Set) Given(env string) bool {
	st := s.byEnv[env]
	return st != nil && st.given
}

// PrintUsage writes every setting with its flag, variable and default.
func (s *Set) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: licensefix %s [flags]\n\nSettings (flag, environment variable, default):\n", s.name)
	for _, st := range s.settings {
		def := st.def
		switch {
		case st.secret:
			def = "(secret, unset)"
		case def == "":
			def = `""`
		}
		name := "--" + st.flag
		if st.flag == "" {
			name = "(no flag)"
		}
		env := st.env
		if env == "" {
			env = "(no variable)"
		}
		fmt.Fprintf(w, "  %-32s %-42s default %s\n      %s\n", name, env, def, st.usage)
	}
}

// FlagNames returns the name of every flag of the set, without dashes and in
// lexical order, including flags registered on FlagSet directly. Shell
// completion is generated from it.
func (s *Set) FlagNames() []string {
	var out []string
	s.fs.VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
	return out
}
