//! The dependency rule of `core/src/lib.rs` (DESIGN.md §1), enforced:
//!
//! ```text
//! cli, fuzzing → {master, agent, executor, client, local}
//!              → {allocator, registry, security, zk, api, supervisor}
//!              → {resources, common, flags, duration} → remesos_proto
//! ```
//!
//! Nothing points up. Within one layer only the edges listed in [`LATERAL`] are allowed,
//! each with its reason, and they form no circle.
//!
//! The test reads every `core/src/**/*.rs`, maps the file to its top-level module
//! (`agent/http.rs` → `agent`), and collects the modules it names through `crate::…`
//! (also `use crate::{a, b}` groups) and through `super::` chains that climb out of its
//! top-level module. Comments, doc comments and string literals are skipped, so a doc
//! link to a higher module is not an edge. Test code counts like any other code: an
//! inline `#[cfg(test)] mod tests` or a `tests.rs` may not reach up either — a test that
//! needs a higher layer is an integration test under `core/tests/`, which sees the whole
//! crate from outside. Each offence is printed as `file:line: from (layer) -> to (layer)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module of `core/src` and its layer: higher numbers sit higher.
const LAYERS: &[(&str, u8)] = &[
    // The binary's subcommands and the fuzz targets' bodies (which drive flags and the
    // master as the CLI does): nothing imports them.
    ("cli", 4),
    ("fuzzing", 4),
    // Daemons, executors, clients, and `local` (master + agents in one process).
    ("master", 3),
    ("agent", 3),
    ("executor", 3),
    ("client", 3),
    ("local", 3),
    // What the daemons are built on: the pure allocator, the durable registry, security,
    // ZooKeeper, the v1 HTTP API plumbing and the daemons' server, the panic policy.
    ("allocator", 2),
    ("registry", 2),
    ("security", 2),
    ("zk", 2),
    ("api", 2),
    ("supervisor", 2),
    // What every layer shares: resources, ids and protocol facts, flag and duration text.
    ("resources", 1),
    ("common", 1),
    ("flags", 1),
    ("duration", 1),
];

/// The edges allowed between two modules of one layer, and why. They must stay acyclic.
const LATERAL: &[(&str, &str, &str)] = &[
    (
        "api",
        "security",
        "the daemons' server terminates TLS with security::tls's configuration",
    ),
    ("local", "master", "local runs a master in the process"),
    ("local", "agent", "local runs agents in the process"),
    (
        "client",
        "local",
        "the scheduler driver's `local` master string starts a cluster in the framework's process (Mesos's sched.cpp calls local::launch)",
    ),
    (
        "executor",
        "client",
        "the built-in executors speak the v1 executor API through client::executor",
    ),
    (
        "registry",
        "zk",
        "the registry's ZooKeeper store uses the zk session and URL",
    ),
    (
        "common",
        "resources",
        "the task JSON model shows a task's resources",
    ),
    (
        "common",
        "flags",
        "the address flags both daemons share (--ip, --hostname, --advertise_ip) are read from loaded flags",
    ),
    (
        "flags",
        "duration",
        "flags parse and print stout's duration and bytes text",
    ),
];

/// Upward edges that exist today and are being removed, each by a named piece of work.
/// `(file under core/src, target module, why)`. None today: issue 13's registry part
/// removed the last one (the registrar <-> ZooKeeper circle).
const KNOWN_UPWARD: &[(&str, &str, &str)] = &[];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// A token of Rust source, as much as this check needs.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// Splits `src` into tokens with their 1-based line, skipping whitespace, comments and
/// string, byte-string, raw-string and char literals (so `"{"` and `'}'` do not unbalance
/// braces and a `crate::x` in a doc comment is not an edge).
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                // An escaped char literal: '\n', '\'', '\u{7f}'.
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                // A char literal: 'a', '{'.
                i += 3;
            } else {
                // A lifetime or label: the name follows as an identifier.
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let ident: String = c[start..i].iter().collect();
            let prefix = matches!(ident.as_str(), "r" | "br" | "b" | "c" | "cr");
            if prefix && at(i) == '"' {
                if ident.contains('r') {
                    i = skip_raw(&c, i, 0, &mut line);
                } else {
                    i = skip_string(&c, i + 1, &mut line);
                }
            } else if prefix && ident.contains('r') && at(i) == '#' {
                let mut hashes = 0;
                while at(i + hashes) == '#' {
                    hashes += 1;
                }
                if at(i + hashes) == '"' {
                    i = skip_raw(&c, i + hashes, hashes, &mut line);
                } else {
                    // A raw identifier (r#type).
                    out.push((Tok::Ident(ident), line));
                }
            } else if ident == "b" && at(i) == '\'' {
                // A byte literal: b'a', b'\n'.
                i += 1;
                if at(i) == '\\' {
                    i += 1;
                }
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else {
                out.push((Tok::Ident(ident), line));
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match ch {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Skips a string literal whose opening quote precedes `i`; returns the index after it.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips a raw string whose opening quote is at `i`, closed by `"` and `hashes` `#`s.
fn skip_raw(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    i += 1;
    while i < c.len() {
        if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        if c[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// The top-level modules named at `toks[i..]`, right after a path that ends at the crate
/// root (`crate::` or enough `super::`s): one identifier, or the first identifier of each
/// element of a `{...}` group.
fn named_at(toks: &[(Tok, usize)], i: usize) -> Vec<String> {
    match toks.get(i) {
        Some((Tok::Ident(name), _)) => vec![name.clone()],
        Some((Tok::Open, _)) => {
            let mut names = Vec::new();
            let mut depth = 0;
            let mut element_start = true;
            for (tok, _) in &toks[i..] {
                match tok {
                    Tok::Open => {
                        depth += 1;
                        element_start = depth == 1;
                    }
                    Tok::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::Comma if depth == 1 => element_start = true,
                    Tok::Ident(name) if depth == 1 && element_start => {
                        names.push(name.clone());
                        element_start = false;
                    }
                    _ => element_start = false,
                }
            }
            names
        }
        _ => vec![],
    }
}

/// The top-level modules `src` refers to, with the line of each reference. `module` is
/// the file's module path (`["master", "runtime"]` for `master/runtime.rs`), which
/// resolves `super::` chains, together with the inline `mod x { ... }` blocks around them.
fn references(module: &[String], src: &str) -> Vec<(String, usize)> {
    let toks = lex(src);
    let mut refs = Vec::new();
    // One entry per open brace: the inline module it opens, if any.
    let mut braces: Vec<Option<String>> = Vec::new();
    for i in 0..toks.len() {
        let prev_is_sep = i > 0 && toks[i - 1].0 == Tok::PathSep;
        match &toks[i].0 {
            Tok::Open => {
                let inline = match (
                    i.checked_sub(2).map(|k| &toks[k].0),
                    i.checked_sub(1).map(|k| &toks[k].0),
                ) {
                    (Some(Tok::Ident(kw)), Some(Tok::Ident(name))) if kw == "mod" => {
                        Some(name.clone())
                    }
                    _ => None,
                };
                braces.push(inline);
            }
            Tok::Close => {
                braces.pop();
            }
            Tok::Ident(kw)
                if kw == "crate" && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep) =>
            {
                for name in named_at(&toks, i + 2) {
                    refs.push((name, toks[i].1));
                }
            }
            Tok::Ident(kw) if kw == "super" && !prev_is_sep => {
                let mut supers = 0;
                let mut j = i;
                while matches!(&toks.get(j).map(|t| &t.0), Some(Tok::Ident(s)) if s == "super")
                    && toks.get(j + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                {
                    supers += 1;
                    j += 2;
                }
                let depth = module.len() + braces.iter().flatten().count();
                if supers > 0 && supers == depth {
                    for name in named_at(&toks, j) {
                        refs.push((name, toks[i].1));
                    }
                }
            }
            _ => {}
        }
    }
    refs
}

/// The module path of a file under `core/src`: `agent/mod.rs` → `[agent]`,
/// `master/http/operator.rs` → `[master, http, operator]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// One reference that breaks the rule.
fn violation(file: &str, module: &[String], target: &str) -> Option<String> {
    let from = module.first()?;
    if from == target {
        return None;
    }
    let (Some(lf), Some(lt)) = (layer(from), layer(target)) else {
        // Not a module of the crate (e.g. `crate::Foo` at the root) or an unplaced one
        // (reported by `every_module_has_a_layer`).
        return None;
    };
    if lt < lf {
        return None;
    }
    if lt == lf && LATERAL.iter().any(|(a, b, _)| a == from && *b == target) {
        return None;
    }
    if KNOWN_UPWARD
        .iter()
        .any(|(f, t, _)| *f == file && *t == target)
    {
        return None;
    }
    Some(format!("{from} (layer {lf}) -> {target} (layer {lt})"))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every offence in the crate, as `file:line: from (layer) -> to (layer)`.
fn offences() -> Vec<String> {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&root).expect("under src");
        let name = relative.to_string_lossy().replace('\\', "/");
        // The crate root declares the modules; the binary calls `remesos::cli` from outside.
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        let module = module_path(relative);
        let src = std::fs::read_to_string(&path).expect("read source");
        for (target, line) in references(&module, &src) {
            if let Some(what) = violation(&name, &module, &target) {
                out.push(format!("core/src/{name}:{line}: {what}"));
            }
        }
    }
    out
}

#[test]
fn no_module_imports_a_higher_layer_or_an_unlisted_peer() {
    let offences = offences();
    assert!(
        offences.is_empty(),
        "imports against the dependency rule (core/src/lib.rs, DESIGN.md §1):\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_module_has_a_layer() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("read lib.rs");
    let declared: BTreeSet<String> = lex(&lib)
        .windows(2)
        .filter_map(|w| match (&w[0].0, &w[1].0) {
            (Tok::Ident(kw), Tok::Ident(name)) if kw == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect();
    let placed: BTreeSet<String> = LAYERS.iter().map(|(m, _)| m.to_string()).collect();
    let unplaced: Vec<_> = declared.difference(&placed).collect();
    assert!(
        unplaced.is_empty(),
        "modules of lib.rs without a layer in tests/layers.rs (and lib.rs's graph): {unplaced:?}"
    );
}

#[test]
fn lateral_edges_stay_within_a_layer_and_form_no_circle() {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to, why) in LATERAL {
        assert_eq!(
            layer(from),
            layer(to),
            "{from} -> {to} ({why}) is not lateral"
        );
        assert!(layer(from).is_some(), "{from} has no layer");
        graph.entry(from).or_default().push(to);
    }
    // Depth-first search from every node; a node met again on the current path is a circle.
    fn visit<'a>(node: &'a str, graph: &BTreeMap<&'a str, Vec<&'a str>>, path: &mut Vec<&'a str>) {
        assert!(!path.contains(&node), "circle: {path:?} -> {node}");
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path);
        }
        path.pop();
    }
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new());
    }
}

/// The check itself can fail: an upward import in a synthetic file is reported with its
/// line, and what is not an edge (comments, strings, `pub(crate)`, paths inside the
/// module) is not.
#[test]
fn an_upward_import_is_reported_and_comments_and_strings_are_not() {
    let module = module_path(Path::new("agent/http.rs"));
    let src = r##"
//! See [`crate::cli`] for the flags.
use crate::common::json::task_json;
use crate::{api, master::Config};
pub(crate) fn f() -> &'static str {
    let _ = '{';
    let _ = "crate::cli::main() {";
    let _ = r#"crate::cli"#;
    /* crate::cli */
    super::runtime::now();
    crate::local::start()
}
mod tests {
    mod inner {
        use super::super::super::super::cli::flags;
    }
}
"##;
    let found: Vec<String> = references(&module, src)
        .into_iter()
        .filter_map(|(target, line)| {
            violation("agent/http.rs", &module, &target).map(|v| format!("{line}: {v}"))
        })
        .collect();
    assert_eq!(
        found,
        vec![
            "4: agent (layer 3) -> master (layer 3)".to_string(),
            "11: agent (layer 3) -> local (layer 3)".to_string(),
            "15: agent (layer 3) -> cli (layer 4)".to_string(),
        ]
    );
}
