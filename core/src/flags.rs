//! Mesos-style command-line flags (stout `flags::FlagsBase`), for `remesos master|agent|…`.
//!
//! Each command declares its flags once ([`Flags`]); loading merges the command line and
//! the environment into a [`LoadedFlags`] with typed getters, the text for `/flags` and
//! GET_FLAGS ([`LoadedFlags::effective`]) and the `--help` text ([`Flags::usage`]).
//!
//! Rules (reference/mesos-contract.md §7, Mesos docs/configuration.md, stout flags.hpp):
//! - `--name=value`; booleans also as `--name`, `--no-name`, `--name=true|false|1|0`
//!   (`--name=` means true, `--no-name=` false). Names are case-insensitive.
//! - Every flag can come from the environment as `MESOS_<NAME>` (also `MESOS_<name>`);
//!   environment variables that name no flag are ignored, since the environment carries
//!   much else (`MESOS_NATIVE_JAVA_LIBRARY`, …). The command line overrides the environment
//!   ("configuration values are searched for first in the environment, then on the
//!   command-line").
//! - A value `file://<path>` is replaced by the contents of `<path>` (absolute, or relative
//!   to the working directory) for every kind except [`FlagKind::Path`].
//! - An unknown flag, a repeated flag, a value for `--no-name`, or a `--no-` non-boolean is
//!   an error; messages are stout's, lowercased (`failed to load unknown flag 'foo'`).
//! - Each argument is trimmed; `--` ends the flags; other arguments are not flags and are
//!   handed back in [`LoadedFlags::remaining`], as stout's argv-rewriting `load` does.
//! - `--help` is always declared; the caller prints [`Flags::usage`] when it is set.
//!
//! Deliberate extensions over stout, none of which changes what a valid Mesos command line
//! means:
//! - `--name value` (two arguments) is accepted for a known non-boolean flag when the next
//!   argument does not start with `--` (stout would report a missing value);
//! - an alias also works in the environment (`MESOS_SLAVE_PING_TIMEOUT`);
//! - one trailing newline is dropped from `file://` contents, so `echo 5secs > f` works;
//! - numbers must not carry surrounding spaces, and unsigned flags reject `-1` (C++ streams
//!   wrap it).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::duration::{format_bytes, format_duration, format_g, parse_bytes, parse_duration};

/// Why a command line or environment could not be loaded. Messages are stout's, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `given` is what was written when it differs from the flag name (`no-foo`).
    #[error("failed to load unknown flag '{name}'{}", via(given))]
    UnknownFlag { name: String, given: Option<String> },
    #[error("duplicate flag '{0}' on command line")]
    Duplicate(String),
    /// The same flag given twice under different names (a name and its alias).
    #[error("flag is already loaded via name '{0}'")]
    AlreadyLoaded(String),
    #[error("failed to load non-boolean flag '{name}' via '{given}'")]
    NegatedNonBoolean { name: String, given: String },
    #[error("failed to load non-boolean flag '{0}': missing value")]
    MissingValue(String),
    #[error("failed to load boolean flag '{name}' via '{given}' with value '{value}'")]
    NegatedWithValue {
        name: String,
        given: String,
        value: String,
    },
    /// The value did not parse as the flag's kind, or its `file://` could not be read.
    #[error("failed to load flag '{name}': failed to load value '{value}': {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    /// A flag's validator refused the loaded value (the validator's own message).
    #[error("{0}")]
    Invalid(String),
}

fn via(given: &Option<String>) -> String {
    given
        .as_ref()
        .map(|g| format!(" via '{g}'"))
        .unwrap_or_default()
}

pub type Result<T> = std::result::Result<T, Error>;

/// The environment prefix Mesos uses for every flag.
pub const ENV_PREFIX: &str = "MESOS_";

/// What a flag's value is, which decides how its text is parsed and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// Any text; `file://` is read.
    Str,
    /// A path; `file://` is *not* read (stout's `Path` flags, e.g. `--credential`).
    Path,
    Bool,
    /// stout duration text (`15secs`); see [`crate::duration`].
    Duration,
    /// stout byte text (`2GB`), held as a byte count.
    Bytes,
    I64,
    U64,
    U32,
    U16,
    F64,
}

/// A typed flag value.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    /// For [`FlagKind::Str`] and [`FlagKind::Path`].
    Str(String),
    Bool(bool),
    Duration(Duration),
    /// Bytes.
    Bytes(u64),
    Int(i64),
    /// For the unsigned kinds; always within the kind's range.
    UInt(u64),
    Float(f64),
}

impl FlagValue {
    fn fits(&self, kind: FlagKind) -> bool {
        use FlagKind as K;
        match self {
            FlagValue::Str(_) => matches!(kind, K::Str | K::Path),
            FlagValue::Bool(_) => kind == K::Bool,
            FlagValue::Duration(_) => kind == K::Duration,
            FlagValue::Bytes(_) => kind == K::Bytes,
            FlagValue::Int(_) => kind == K::I64,
            FlagValue::UInt(v) => match kind {
                K::U64 => true,
                K::U32 => u32::try_from(*v).is_ok(),
                K::U16 => u16::try_from(*v).is_ok(),
                _ => false,
            },
            FlagValue::Float(_) => kind == K::F64,
        }
    }
}

/// As Mesos prints values in `--help`, `/flags` and its startup log.
impl fmt::Display for FlagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagValue::Str(s) => f.write_str(s),
            FlagValue::Bool(b) => write!(f, "{b}"),
            FlagValue::Duration(d) => f.write_str(&format_duration(*d)),
            FlagValue::Bytes(b) => f.write_str(&format_bytes(*b)),
            FlagValue::Int(i) => write!(f, "{i}"),
            FlagValue::UInt(u) => write!(f, "{u}"),
            // A C++ stream's default: 6 significant digits.
            FlagValue::Float(x) => f.write_str(&format_g(*x, 6)),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$t> for FlagValue {
            fn from(v: $t) -> Self {
                FlagValue::$variant($conv(v))
            }
        })*
    };
}

value_from! {
    &str => Str(str::to_string),
    String => Str(|s| s),
    bool => Bool(|b| b),
    Duration => Duration(|d| d),
    i64 => Int(|i| i),
    u64 => UInt(|u| u),
    u32 => UInt(u64::from),
    u16 => UInt(u64::from),
    f64 => Float(|x| x),
}

/// Checks a loaded (or default) value; `Err` carries the whole message shown to the user.
pub type Validator = fn(&FlagValue) -> std::result::Result<(), String>;

/// One flag's declaration.
#[derive(Debug, Clone)]
pub struct Flag {
    /// Lowercase, without `--`; never starts with `no-`.
    name: String,
    /// A second name (usually the old `slave` spelling).
    alias: Option<String>,
    help: String,
    kind: FlagKind,
    /// `None`: the flag is unset unless given (stout's `Option<T>` flags).
    default: Option<FlagValue>,
    validator: Option<Validator>,
}

impl Flag {
    pub fn new(name: &str, kind: FlagKind, help: &str) -> Flag {
        Flag {
            name: name.to_ascii_lowercase(),
            alias: None,
            help: help.to_string(),
            kind,
            default: None,
            validator: None,
        }
    }

    pub fn string(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::Str, help)
    }
    pub fn path(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::Path, help)
    }
    pub fn bool(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::Bool, help)
    }
    pub fn duration(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::Duration, help)
    }
    /// A byte size; give the default as `FlagValue::Bytes(n)`.
    pub fn bytes(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::Bytes, help)
    }
    pub fn i64(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::I64, help)
    }
    pub fn u64(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::U64, help)
    }
    pub fn u32(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::U32, help)
    }
    pub fn u16(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::U16, help)
    }
    pub fn f64(name: &str, help: &str) -> Flag {
        Flag::new(name, FlagKind::F64, help)
    }

    pub fn alias(mut self, alias: &str) -> Flag {
        self.alias = Some(alias.to_ascii_lowercase());
        self
    }

    /// The value when the flag is not given; it must fit the flag's kind.
    pub fn default(mut self, value: impl Into<FlagValue>) -> Flag {
        let value = value.into();
        debug_assert!(
            value.fits(self.kind),
            "default {value:?} does not fit flag '{}' of kind {:?}",
            self.name,
            self.kind
        );
        self.default = Some(value);
        self
    }

    pub fn validator(mut self, validator: Validator) -> Flag {
        self.validator = Some(validator);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> FlagKind {
        self.kind
    }
}

/// A command's flag declarations. `--help` is always declared.
#[derive(Debug, Clone)]
pub struct Flags {
    program: String,
    usage_message: Option<String>,
    /// By name; sorted, as stout lists flags.
    flags: BTreeMap<String, Flag>,
    /// Alias -> name.
    aliases: BTreeMap<String, String>,
}

impl Flags {
    /// `program` is what `Usage:` shows, e.g. `remesos master`.
    pub fn new(program: &str) -> Flags {
        Flags {
            program: program.to_string(),
            usage_message: None,
            flags: BTreeMap::new(),
            aliases: BTreeMap::new(),
        }
        .flag(Flag::bool("help", "Prints this help message").default(false))
    }

    /// Replaces the `Usage: <program> [options]` line of [`Flags::usage`].
    pub fn usage_message(mut self, message: &str) -> Flags {
        self.usage_message = Some(message.to_string());
        self
    }

    /// Declares a flag. Names and aliases are unique and never start with `no-`; breaking
    /// that is a programming error, caught by `debug_assert!` (stout exits).
    pub fn flag(mut self, flag: Flag) -> Flags {
        self.add(flag);
        self
    }

    /// As [`Flags::flag`], for declaring in a loop.
    pub fn add(&mut self, flag: Flag) -> &mut Flags {
        for name in std::iter::once(&flag.name).chain(&flag.alias) {
            debug_assert!(
                !self.flags.contains_key(name) && !self.aliases.contains_key(name),
                "flag '{name}' declared twice"
            );
            debug_assert!(!name.starts_with("no-"), "flag '{name}' starts with 'no-'");
        }
        debug_assert!(flag.alias.as_ref() != Some(&flag.name), "alias equals name");
        if let Some(alias) = &flag.alias {
            self.aliases.insert(alias.clone(), flag.name.clone());
        }
        self.flags.insert(flag.name.clone(), flag);
        self
    }

    /// The declared flag called `name` (name or alias, any case).
    pub fn get(&self, name: &str) -> Option<&Flag> {
        let name = name.to_ascii_lowercase();
        let name = self.aliases.get(&name).unwrap_or(&name);
        self.flags.get(name)
    }

    /// The `--help` text: `message` (e.g. a load error) and a blank line, the usage line,
    /// then one line per flag with its help and default, laid out as stout lays it out.
    pub fn usage(&self, message: Option<&str>) -> String {
        const PAD: usize = 5;
        let mut out = String::new();
        if let Some(message) = message {
            out.push_str(message);
            out.push_str("\n\n");
        }
        match &self.usage_message {
            Some(m) => out.push_str(m),
            None => out.push_str(&format!("Usage: {} [options]", self.program)),
        }
        out.push_str("\n\n");

        let names = |flag: &Flag| {
            let name = |n: &str| match flag.kind {
                FlagKind::Bool => format!("--[no-]{n}"),
                _ => format!("--{n}=VALUE"),
            };
            let mut col = format!("  {}", name(&flag.name));
            if let Some(alias) = &flag.alias {
                col.push_str(&format!(", {}", name(alias)));
            }
            col
        };
        let width = self
            .flags
            .values()
            .map(|f| names(f).chars().count())
            .max()
            .unwrap_or(0);
        for flag in self.flags.values() {
            let mut help = flag.help.clone();
            if let Some(default) = &flag.default {
                // stout starts the default on the help's last line, or on a new line if the
                // help ends with one.
                if !help.is_empty() && !help.ends_with(['\n', '\r']) {
                    help.push(' ');
                }
                help.push_str(&format!("(default: {default})"));
            }
            let col = names(flag);
            let pad = PAD + width - col.chars().count();
            let mut lines = help.split(['\n', '\r']);
            let first = lines.next().unwrap_or("");
            out.push_str(&format!("{col}{}{first}\n", " ".repeat(pad)));
            for line in lines {
                out.push_str(&format!("{}{line}\n", " ".repeat(PAD + width)));
            }
        }
        out
    }

    /// Loads `args` (the arguments after the program or subcommand name) over `env` (the
    /// process environment, passed in so tests are deterministic) over the defaults.
    pub fn load<A, K, V>(
        &self,
        args: &[A],
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<LoadedFlags>
    where
        A: AsRef<str>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (command_line, remaining) = self.scan_args(args)?;
        let environment = self.scan_env(env)?;

        let mut entries: BTreeMap<String, Entry> = self
            .flags
            .values()
            .map(|flag| {
                let entry = Entry {
                    kind: flag.kind,
                    value: flag.default.clone(),
                    loaded_name: None,
                    source: Source::Default,
                };
                (flag.name.clone(), entry)
            })
            .collect();

        // The command line overrides the environment, flag by flag.
        let mut given: BTreeMap<&str, (Given, Source)> = BTreeMap::new();
        for g in environment {
            given.insert(self.flags[&g.flag].name.as_str(), (g, Source::Environment));
        }
        for g in command_line {
            given.insert(self.flags[&g.flag].name.as_str(), (g, Source::CommandLine));
        }
        for (name, (g, source)) in given {
            let flag = &self.flags[name];
            let value = self.value_of(flag, &g)?;
            if let Some(entry) = entries.get_mut(name) {
                entry.value = Some(value);
                entry.loaded_name = Some(g.used_name);
                entry.source = source;
            }
        }

        for (name, flag) in &self.flags {
            if let (Some(validator), Some(value)) = (flag.validator, &entries[name].value) {
                validator(value).map_err(Error::Invalid)?;
            }
        }

        Ok(LoadedFlags {
            entries,
            aliases: self.aliases.clone(),
            remaining,
        })
    }

    /// Resolves `name` (lowercase, `no-` already removed) to a declared flag's name.
    fn resolve(&self, name: &str) -> Option<&str> {
        if let Some(n) = self.aliases.get(name) {
            return Some(n);
        }
        self.flags.get_key_value(name).map(|(n, _)| n.as_str())
    }

    /// Splits a written name into (flag it names, negated, name without `no-`).
    fn classify(&self, written: &str) -> (Option<String>, bool, String) {
        let (negated, bare) = match written.strip_prefix("no-") {
            Some(bare) => (true, bare),
            None => (false, written),
        };
        (
            self.resolve(bare).map(str::to_string),
            negated,
            bare.to_string(),
        )
    }

    fn scan_args<A: AsRef<str>>(&self, args: &[A]) -> Result<(Vec<Given>, Vec<String>)> {
        let mut given: Vec<Given> = Vec::new();
        let mut remaining = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = trim(args[i].as_ref());
            i += 1;
            if arg == "--" {
                remaining.extend(args[i..].iter().map(|a| a.as_ref().to_string()));
                break;
            }
            let Some(body) = arg.strip_prefix("--") else {
                remaining.push(args[i - 1].as_ref().to_string());
                continue;
            };
            let (written, mut value) = match body.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
                None => (body.to_ascii_lowercase(), None),
            };
            let (flag, negated, bare) = self.classify(&written);
            let Some(flag) = flag else {
                return Err(Error::UnknownFlag {
                    given: negated.then(|| written.clone()),
                    name: bare,
                });
            };
            // Extension: `--name value` for a non-boolean flag.
            if value.is_none()
                && !negated
                && self.flags[&flag].kind != FlagKind::Bool
                && let Some(next) = args.get(i).map(|a| trim(a.as_ref()))
                && !next.starts_with("--")
            {
                value = Some(next.to_string());
                i += 1;
            }
            if let Some(earlier) = given.iter().find(|g| g.flag == flag) {
                return Err(if earlier.used_name == bare {
                    Error::Duplicate(written)
                } else {
                    Error::AlreadyLoaded(earlier.used_name.clone())
                });
            }
            given.push(Given {
                flag,
                used_name: bare,
                written,
                negated,
                value,
            });
        }
        Ok((given, remaining))
    }

    fn scan_env<K: AsRef<str>, V: AsRef<str>>(
        &self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Vec<Given>> {
        let mut given: Vec<Given> = Vec::new();
        for (key, value) in env {
            let Some(written) = key.as_ref().strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let written = written.to_ascii_lowercase();
            let (Some(flag), negated, bare) = self.classify(&written) else {
                continue;
            };
            let g = Given {
                flag,
                used_name: bare,
                written,
                negated,
                value: Some(value.as_ref().to_string()),
            };
            match given.iter_mut().find(|e| e.flag == g.flag) {
                // `MESOS_WORK_DIR` and `MESOS_work_dir`: the later one wins, as in stout.
                Some(earlier) if earlier.written == g.written => *earlier = g,
                Some(earlier) => return Err(Error::AlreadyLoaded(earlier.used_name.clone())),
                None => given.push(g),
            }
        }
        Ok(given)
    }

    /// Applies stout's boolean / negation rules, fetches `file://` and parses.
    fn value_of(&self, flag: &Flag, g: &Given) -> Result<FlagValue> {
        let name = &flag.name;
        let text = if flag.kind == FlagKind::Bool {
            match (&g.value, g.negated) {
                (None, negated) => (!negated).to_string(),
                (Some(v), negated) if v.is_empty() => (!negated).to_string(),
                (Some(v), false) => v.clone(),
                (Some(v), true) => {
                    return Err(Error::NegatedWithValue {
                        name: name.clone(),
                        given: g.written.clone(),
                        value: v.clone(),
                    });
                }
            }
        } else if g.negated {
            return Err(Error::NegatedNonBoolean {
                name: name.clone(),
                given: g.written.clone(),
            });
        } else {
            g.value
                .clone()
                .ok_or_else(|| Error::MissingValue(name.clone()))?
        };
        let invalid = |reason: String| Error::InvalidValue {
            name: name.clone(),
            value: text.clone(),
            reason,
        };
        let fetched = match text.strip_prefix("file://") {
            Some(path) if flag.kind != FlagKind::Path => {
                let mut contents = std::fs::read_to_string(path)
                    .map_err(|e| invalid(format!("error reading file '{path}': {e}")))?;
                if contents.ends_with('\n') {
                    contents.pop();
                    if contents.ends_with('\r') {
                        contents.pop();
                    }
                }
                contents
            }
            _ => text.clone(),
        };
        parse_value(flag.kind, &fetched).map_err(invalid)
    }
}

fn trim(s: &str) -> &str {
    // stout trims its own whitespace set, not Unicode's.
    s.trim_matches([' ', '\t', '\n', '\r'])
}

/// Parses `text` as `kind`; the error is the reason shown after the value.
pub fn parse_value(kind: FlagKind, text: &str) -> std::result::Result<FlagValue, String> {
    let e = |e: &dyn fmt::Display| e.to_string();
    Ok(match kind {
        FlagKind::Str | FlagKind::Path => FlagValue::Str(text.to_string()),
        FlagKind::Bool => match text {
            "true" | "1" => FlagValue::Bool(true),
            "false" | "0" => FlagValue::Bool(false),
            _ => return Err("expecting a boolean (e.g., true or false)".to_string()),
        },
        FlagKind::Duration => FlagValue::Duration(parse_duration(text).map_err(|x| e(&x))?),
        FlagKind::Bytes => FlagValue::Bytes(parse_bytes(text).map_err(|x| e(&x))?),
        FlagKind::I64 => FlagValue::Int(text.parse::<i64>().map_err(|x| e(&x))?),
        FlagKind::U64 => FlagValue::UInt(text.parse::<u64>().map_err(|x| e(&x))?),
        FlagKind::U32 => FlagValue::UInt(text.parse::<u32>().map_err(|x| e(&x))?.into()),
        FlagKind::U16 => FlagValue::UInt(text.parse::<u16>().map_err(|x| e(&x))?.into()),
        FlagKind::F64 => {
            let x = text.parse::<f64>().map_err(|x| e(&x))?;
            if !x.is_finite() {
                return Err("expecting a finite number".to_string());
            }
            FlagValue::Float(x)
        }
    })
}

/// One flag as found on the command line or in the environment, before parsing.
struct Given {
    /// The declared name it resolved to.
    flag: String,
    /// The name used, without `no-` (the flag's name or its alias).
    used_name: String,
    /// The name as written, lowercased, with any `no-`.
    written: String,
    negated: bool,
    value: Option<String>,
}

/// Where a flag's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The declared default, or unset if there is none.
    Default,
    Environment,
    CommandLine,
}

#[derive(Debug, Clone)]
struct Entry {
    kind: FlagKind,
    /// Within the kind (see [`FlagValue::fits`]); `None` only for an unset flag without a
    /// default.
    value: Option<FlagValue>,
    /// The name the value was loaded by (name or alias); `None` for the default.
    loaded_name: Option<String>,
    source: Source,
}

/// The result of [`Flags::load`]: every declared flag's value.
///
/// Getters take a flag's name or alias. Asking for an undeclared flag or with the wrong
/// type is a programming error: `debug_assert!`, and `None` in release builds.
#[derive(Debug, Clone)]
pub struct LoadedFlags {
    /// By declared name.
    entries: BTreeMap<String, Entry>,
    /// Alias -> name.
    aliases: BTreeMap<String, String>,
    remaining: Vec<String>,
}

impl LoadedFlags {
    fn entry(&self, name: &str) -> Option<&Entry> {
        let name = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        let entry = self.entries.get(name);
        debug_assert!(entry.is_some(), "flag '{name}' is not declared");
        entry
    }

    fn typed<T>(
        &self,
        name: &str,
        kinds: &[FlagKind],
        f: impl Fn(&FlagValue) -> Option<T>,
    ) -> Option<T> {
        let entry = self.entry(name)?;
        debug_assert!(
            kinds.contains(&entry.kind),
            "flag '{name}' is {:?}, not {kinds:?}",
            entry.kind
        );
        entry.value.as_ref().and_then(f)
    }

    /// The flag's value (given or default); `None` if unset without a default.
    pub fn get(&self, name: &str) -> Option<&FlagValue> {
        self.entry(name)?.value.as_ref()
    }

    /// Where the value came from; `None` for an undeclared flag.
    pub fn source(&self, name: &str) -> Option<Source> {
        Some(self.entry(name)?.source)
    }

    /// Whether the flag was given on the command line or in the environment.
    pub fn is_given(&self, name: &str) -> bool {
        matches!(
            self.source(name),
            Some(Source::CommandLine | Source::Environment)
        )
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        let entry = self.entry(name)?;
        debug_assert!(matches!(entry.kind, FlagKind::Str | FlagKind::Path));
        match &entry.value {
            Some(FlagValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.typed(name, &[FlagKind::Bool], |v| match v {
            FlagValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    pub fn get_duration(&self, name: &str) -> Option<Duration> {
        self.typed(name, &[FlagKind::Duration], |v| match v {
            FlagValue::Duration(d) => Some(*d),
            _ => None,
        })
    }

    /// A byte size in bytes.
    pub fn get_bytes(&self, name: &str) -> Option<u64> {
        self.typed(name, &[FlagKind::Bytes], |v| match v {
            FlagValue::Bytes(b) => Some(*b),
            _ => None,
        })
    }

    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.typed(name, &[FlagKind::I64], |v| match v {
            FlagValue::Int(i) => Some(*i),
            _ => None,
        })
    }

    fn unsigned(&self, name: &str, kinds: &[FlagKind]) -> Option<u64> {
        self.typed(name, kinds, |v| match v {
            FlagValue::UInt(u) => Some(*u),
            _ => None,
        })
    }

    pub fn get_u64(&self, name: &str) -> Option<u64> {
        use FlagKind::*;
        self.unsigned(name, &[U64, U32, U16])
    }

    pub fn get_u32(&self, name: &str) -> Option<u32> {
        use FlagKind::*;
        self.unsigned(name, &[U32, U16])
            .and_then(|u| u32::try_from(u).ok())
    }

    pub fn get_u16(&self, name: &str) -> Option<u16> {
        self.unsigned(name, &[FlagKind::U16])
            .and_then(|u| u16::try_from(u).ok())
    }

    pub fn get_f64(&self, name: &str) -> Option<f64> {
        self.typed(name, &[FlagKind::F64], |v| match v {
            FlagValue::Float(x) => Some(*x),
            _ => None,
        })
    }

    /// Whether `--help` was given.
    pub fn help(&self) -> bool {
        self.get_bool("help").unwrap_or(false)
    }

    /// Every flag that has a value, as (name, text), sorted by flag name: what `/flags` and
    /// GET_FLAGS return. The name is the one the value was loaded by (an alias if given as
    /// one), as stout's `effective_name`; defaults are included, unset flags are not.
    pub fn effective(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter_map(|(name, entry)| {
                let value = entry.value.as_ref()?;
                let name = entry.loaded_name.as_ref().unwrap_or(name);
                Some((name.clone(), value.to_string()))
            })
            .collect()
    }

    /// The arguments that were not flags (and everything after `--`), in order.
    pub fn remaining(&self) -> &[String] {
        &self.remaining
    }

    /// Declared aliases, alias -> name.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, n)| (a.as_str(), n.as_str()))
    }
}

/// `--name="value" ...` for every flag with a value, as Mesos logs its flags at startup.
impl fmt::Display for LoadedFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.effective().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "--{name}=\"{value}\"")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NO_ENV: [(&str, &str); 0] = [];

    /// A cut-down master flag set (reference/mesos-contract.md §7).
    fn master() -> Flags {
        Flags::new("remesos master")
            .flag(Flag::string("ip", "IP address to listen on."))
            .flag(Flag::u16("port", "Port to listen on.").default(5050u16))
            .flag(Flag::path("work_dir", "Path of the master work directory."))
            .flag(Flag::string("zk", "ZooKeeper URL."))
            .flag(
                Flag::duration("agent_ping_timeout", "Ping timeout.")
                    .alias("slave_ping_timeout")
                    .default(Duration::from_secs(15)),
            )
            .flag(Flag::u64("max_agent_ping_timeouts", "Pings.").default(5u64))
            .flag(
                Flag::bool("authenticate_frameworks", "Authenticate frameworks.")
                    .alias("authenticate")
                    .default(false),
            )
            .flag(Flag::bool("hostname_lookup", "Look up hostname.").default(true))
            .flag(Flag::bool("quiet", "Quiet."))
            .flag(Flag::f64("gc_disk_headroom", "Headroom.").default(0.1))
            .flag(Flag::bytes("fetcher_cache_size", "Cache.").default(FlagValue::Bytes(2 << 30)))
            .flag(Flag::i64("logbufsecs", "Buffer seconds.").default(0i64))
            .flag(Flag::u32("quorum", "Quorum size."))
    }

    fn load(args: &[&str]) -> Result<LoadedFlags> {
        master().load(args, NO_ENV)
    }

    fn load_env(args: &[&str], env: &[(&str, &str)]) -> Result<LoadedFlags> {
        master().load(args, env.iter().copied())
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let f = load(&[]).unwrap();
        assert_eq!(f.get_u16("port"), Some(5050));
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            f.get_duration("slave_ping_timeout"),
            Some(Duration::from_secs(15))
        );
        assert_eq!(f.get_bool("hostname_lookup"), Some(true));
        assert_eq!(f.get_bool("quiet"), None);
        assert_eq!(f.get_str("work_dir"), None);
        assert_eq!(f.get_f64("gc_disk_headroom"), Some(0.1));
        assert_eq!(f.get_bytes("fetcher_cache_size"), Some(2 << 30));
        assert_eq!(f.get_u64("max_agent_ping_timeouts"), Some(5));
        assert_eq!(f.get_u64("port"), Some(5050));
        assert_eq!(f.source("port"), Some(Source::Default));
        assert!(!f.help());
    }

    #[test]
    fn all_value_forms_load() {
        let f = load(&[
            "--port=6060",
            "--work_dir",
            "/var/lib/mesos",
            "--agent_ping_timeout=1.5secs",
            "--authenticate_frameworks",
            "--no-hostname_lookup",
            "--quiet=false",
            "--gc_disk_headroom=0.25",
            "--fetcher_cache_size=512MB",
            "--logbufsecs=-3",
            "--quorum",
            "2",
            "--ZK=zk://a:2181/mesos",
        ])
        .unwrap();
        assert_eq!(f.get_u16("port"), Some(6060));
        assert_eq!(f.get_str("work_dir"), Some("/var/lib/mesos"));
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(f.get_bool("authenticate_frameworks"), Some(true));
        assert_eq!(f.get_bool("hostname_lookup"), Some(false));
        assert_eq!(f.get_bool("quiet"), Some(false));
        assert_eq!(f.get_f64("gc_disk_headroom"), Some(0.25));
        assert_eq!(f.get_bytes("fetcher_cache_size"), Some(512 << 20));
        assert_eq!(f.get_i64("logbufsecs"), Some(-3));
        assert_eq!(f.get_u32("quorum"), Some(2));
        assert_eq!(f.get_str("zk"), Some("zk://a:2181/mesos"));
        assert_eq!(f.source("port"), Some(Source::CommandLine));
        assert!(f.remaining().is_empty());
    }

    // stout: a boolean takes true/false/1/0; empty means the bare form.
    #[test]
    fn boolean_forms() {
        for (arg, want) in [
            ("--quiet", true),
            ("--quiet=", true),
            ("--quiet=true", true),
            ("--quiet=1", true),
            ("--quiet=false", false),
            ("--quiet=0", false),
            ("--no-quiet", false),
            ("--no-quiet=", false),
            ("--NO-QUIET", false),
        ] {
            assert_eq!(load(&[arg]).unwrap().get_bool("quiet"), Some(want), "{arg}");
        }
        // A boolean never takes the next argument as its value.
        let f = load(&["--quiet", "false"]).unwrap();
        assert_eq!(f.get_bool("quiet"), Some(true));
        assert_eq!(f.remaining(), ["false"]);
    }

    #[test]
    fn load_errors_use_stout_messages() {
        let cases: &[(&[&str], &str)] = &[
            (&["--foo=1"], "failed to load unknown flag 'foo'"),
            (
                &["--no-foo"],
                "failed to load unknown flag 'foo' via 'no-foo'",
            ),
            (
                &["--port=1", "--port=2"],
                "duplicate flag 'port' on command line",
            ),
            (
                &["--quiet", "--no-quiet"],
                "duplicate flag 'no-quiet' on command line",
            ),
            (
                &["--agent_ping_timeout=1secs", "--slave_ping_timeout=2secs"],
                "flag is already loaded via name 'agent_ping_timeout'",
            ),
            (
                &["--no-port"],
                "failed to load non-boolean flag 'port' via 'no-port'",
            ),
            (
                &["--port"],
                "failed to load non-boolean flag 'port': missing value",
            ),
            (
                &["--port", "--quiet"],
                "failed to load non-boolean flag 'port': missing value",
            ),
            (
                &["--no-quiet=true"],
                "failed to load boolean flag 'quiet' via 'no-quiet' with value 'true'",
            ),
            (
                &["--quiet=yes"],
                "failed to load flag 'quiet': failed to load value 'yes': expecting a boolean \
                 (e.g., true or false)",
            ),
            (
                &["--port=70000"],
                "failed to load flag 'port': failed to load value '70000': number too large \
                 to fit in target type",
            ),
            (
                &["--port=abc"],
                "failed to load flag 'port': failed to load value 'abc': invalid digit found \
                 in string",
            ),
            (
                &["--agent_ping_timeout=5s"],
                "failed to load flag 'agent_ping_timeout': failed to load value '5s': unknown \
                 duration unit 's'; supported units are 'ns', 'us', 'ms', 'secs', 'mins', \
                 'hrs', 'days', and 'weeks'",
            ),
            (
                &["--gc_disk_headroom=inf"],
                "failed to load flag 'gc_disk_headroom': failed to load value 'inf': \
                 expecting a finite number",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(load(args).unwrap_err().to_string(), *want, "{args:?}");
        }
    }

    #[test]
    fn aliases_load_and_report_the_name_used() {
        let f = load(&["--slave_ping_timeout=30secs", "--authenticate"]).unwrap();
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(f.get_bool("authenticate_frameworks"), Some(true));
        let effective = f.effective();
        assert!(effective.contains(&("slave_ping_timeout".into(), "30secs".into())));
        assert!(effective.contains(&("authenticate".into(), "true".into())));
        assert!(!effective.iter().any(|(n, _)| n == "agent_ping_timeout"));
    }

    // docs/configuration.md: environment first, then the command line.
    #[test]
    fn environment_loads_and_command_line_wins() {
        let env = [
            ("MESOS_PORT", "7070"),
            ("MESOS_work_dir", "/env/dir"),
            ("MESOS_QUIET", ""),
            ("MESOS_SLAVE_PING_TIMEOUT", "1mins"),
            ("MESOS_NATIVE_JAVA_LIBRARY", "/usr/lib/libmesos.so"),
            ("PORT", "1"),
            ("mesos_port", "2"),
        ];
        let f = load_env(&["--port=8080"], &env).unwrap();
        assert_eq!(f.get_u16("port"), Some(8080));
        assert_eq!(f.source("port"), Some(Source::CommandLine));
        assert_eq!(f.get_str("work_dir"), Some("/env/dir"));
        assert_eq!(f.source("work_dir"), Some(Source::Environment));
        assert_eq!(f.get_bool("quiet"), Some(true));
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(60))
        );

        let f = load_env(&[], &env).unwrap();
        assert_eq!(f.get_u16("port"), Some(7070));

        // Overriding is per flag, whatever spelling each side used.
        let f = load_env(&["--no-quiet"], &[("MESOS_QUIET", "true")]).unwrap();
        assert_eq!(f.get_bool("quiet"), Some(false));
        let f = load_env(
            &["--agent_ping_timeout=2secs"],
            &[("MESOS_SLAVE_PING_TIMEOUT", "1mins")],
        )
        .unwrap();
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn environment_errors() {
        assert_eq!(
            load_env(&[], &[("MESOS_PORT", "x")])
                .unwrap_err()
                .to_string(),
            "failed to load flag 'port': failed to load value 'x': invalid digit found in string"
        );
        assert_eq!(
            load_env(
                &[],
                &[
                    ("MESOS_AGENT_PING_TIMEOUT", "1secs"),
                    ("MESOS_SLAVE_PING_TIMEOUT", "2secs")
                ]
            )
            .unwrap_err(),
            Error::AlreadyLoaded("agent_ping_timeout".into())
        );
        // Same name twice (different case): the later wins.
        let f = load_env(&[], &[("MESOS_PORT", "1"), ("MESOS_port", "2")]).unwrap();
        assert_eq!(f.get_u16("port"), Some(2));
    }

    #[test]
    fn file_values_are_read_except_for_paths() {
        let dir = std::env::temp_dir().join(format!("remesos-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zk = dir.join("zk");
        std::fs::write(&zk, "zk://10.0.0.1:2181/mesos\n").unwrap();
        let timeout = dir.join("timeout");
        std::fs::write(&timeout, "45secs").unwrap();

        let zk_arg = format!("--zk=file://{}", zk.display());
        let timeout_arg = format!("--agent_ping_timeout=file://{}", timeout.display());
        let work_dir_arg = format!("--work_dir=file://{}", zk.display());
        let f = load(&[&zk_arg, &timeout_arg, &work_dir_arg]).unwrap();
        assert_eq!(f.get_str("zk"), Some("zk://10.0.0.1:2181/mesos"));
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            f.get_str("work_dir"),
            Some(work_dir_arg.trim_start_matches("--work_dir="))
        );

        let env_value = format!("file://{}", timeout.display());
        let f = load_env(&[], &[("MESOS_AGENT_PING_TIMEOUT", &env_value)]).unwrap();
        assert_eq!(
            f.get_duration("agent_ping_timeout"),
            Some(Duration::from_secs(45))
        );

        let missing = format!("--zk=file://{}", dir.join("missing").display());
        let err = load(&[&missing]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "failed to load flag 'zk': failed to load value '{}': error reading file",
                &missing[5..]
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn non_flags_and_double_dash_are_handed_back() {
        let f = load(&["x", "  --port=1 ", "--", "--quiet", "y"]).unwrap();
        assert_eq!(f.get_u16("port"), Some(1));
        assert_eq!(f.get_bool("quiet"), None);
        assert_eq!(f.remaining(), ["x", "--quiet", "y"]);
    }

    #[test]
    fn effective_lists_every_value_with_mesos_text() {
        let f = load(&["--ip=127.0.0.1"]).unwrap();
        let want: Vec<(String, String)> = [
            ("agent_ping_timeout", "15secs"),
            ("authenticate_frameworks", "false"),
            ("fetcher_cache_size", "2GB"),
            ("gc_disk_headroom", "0.1"),
            ("help", "false"),
            ("hostname_lookup", "true"),
            ("ip", "127.0.0.1"),
            ("logbufsecs", "0"),
            ("max_agent_ping_timeouts", "5"),
            ("port", "5050"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(f.effective(), want);
        assert!(
            f.to_string()
                .starts_with("--agent_ping_timeout=\"15secs\" --authenticate")
        );
    }

    #[test]
    fn help_flag_and_usage_text() {
        assert!(load(&["--help"]).unwrap().help());
        let flags = Flags::new("remesos agent")
            .flag(Flag::u16("port", "Port to listen on.").default(5051u16))
            .flag(
                Flag::duration(
                    "executor_shutdown_grace_period",
                    "Grace period.\nSecond line.",
                )
                .default(Duration::from_secs(5)),
            )
            .flag(
                Flag::bool("switch_user", "Run as the user.\n")
                    .alias("switch")
                    .default(true),
            )
            .flag(Flag::string("master", "Master to register with."));
        let usage = flags.usage(Some("Missing required flag --master"));
        let want = "\
Missing required flag --master

Usage: remesos agent [options]

  --executor_shutdown_grace_period=VALUE     Grace period.
                                             Second line. (default: 5secs)
  --[no-]help                                Prints this help message (default: false)
  --master=VALUE                             Master to register with.
  --port=VALUE                               Port to listen on. (default: 5051)
  --[no-]switch_user, --[no-]switch          Run as the user.
                                             (default: true)
";
        assert_eq!(usage, want);
        let custom = flags.clone().usage_message("Usage: custom").usage(None);
        assert!(custom.starts_with("Usage: custom\n\n  --executor"));
    }

    #[test]
    fn validators_run_on_defaults_and_values() {
        fn at_least_10mins(v: &FlagValue) -> std::result::Result<(), String> {
            match v {
                FlagValue::Duration(d) if *d < Duration::from_secs(600) => Err(
                    "invalid value for '--agent_reregister_timeout': must be at least 10mins"
                        .to_string(),
                ),
                _ => Ok(()),
            }
        }
        let flags = Flags::new("m").flag(
            Flag::duration("agent_reregister_timeout", "")
                .default(Duration::from_secs(600))
                .validator(at_least_10mins),
        );
        assert!(
            flags
                .load(&["--agent_reregister_timeout=1hrs"], NO_ENV)
                .is_ok()
        );
        assert_eq!(
            flags
                .load(&["--agent_reregister_timeout=1mins"], NO_ENV)
                .unwrap_err()
                .to_string(),
            "invalid value for '--agent_reregister_timeout': must be at least 10mins"
        );
    }

    #[test]
    fn declarations_are_found_by_name_or_alias() {
        let flags = master();
        assert_eq!(
            flags.get("SLAVE_PING_TIMEOUT").map(Flag::name),
            Some("agent_ping_timeout")
        );
        assert_eq!(flags.get("port").map(Flag::kind), Some(FlagKind::U16));
        assert!(flags.get("nope").is_none());
    }

    fn arg() -> impl Strategy<Value = String> {
        let names = prop::sample::select(vec![
            "port",
            "PORT",
            "no-port",
            "quiet",
            "no-quiet",
            "agent_ping_timeout",
            "slave_ping_timeout",
            "authenticate",
            "work_dir",
            "zk",
            "help",
            "gc_disk_headroom",
            "fetcher_cache_size",
            "quorum",
            "logbufsecs",
            "unknown",
            "no-",
            "",
        ]);
        prop_oneof![
            (names.clone(), ".{0,12}").prop_map(|(n, v)| format!("--{n}={v}")),
            names.prop_map(|n| format!("--{n}")),
            Just("--".to_string()),
            Just("--file://x".to_string()),
            "[ -~]{0,16}",
            ".{0,16}",
        ]
    }

    proptest! {
        #[test]
        fn random_argv_and_env_never_panic(
            args in prop::collection::vec(arg(), 0..8),
            env in prop::collection::vec(("MESOS_[A-Za-z_-]{0,12}|.{0,8}", ".{0,12}"), 0..4),
        ) {
            if let Ok(f) = master().load(&args, env) {
                let _ = f.effective();
                let _ = f.to_string();
                let _ = f.get_u16("port");
                let _ = f.get_bool("quiet");
            }
        }

        #[test]
        fn durations_survive_a_trip_through_the_flags(
            nanos in 0..=i64::MAX as u64
        ) {
            let text = format_duration(Duration::from_nanos(nanos));
            let arg = format!("--agent_ping_timeout={text}");
            let f = load(&[&arg]).expect("formatted duration loads");
            let effective = f.effective();
            let printed = &effective.iter().find(|(n, _)| n == "agent_ping_timeout").unwrap().1;
            // Whole-number text survives loading and printing unchanged.
            if !text.contains('.') {
                prop_assert_eq!(printed, &text);
            }
            prop_assert_eq!(f.get_duration("agent_ping_timeout"), parse_duration(&text).ok());
        }
    }
}
