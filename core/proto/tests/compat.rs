//! Schema compatibility with Apache's own generated code (DESIGN.md §2: "wire-compatible
//! with Apache Mesos 1.11"; reference/mesos-contract.md §2).
//!
//! Apache's jars embed the FileDescriptorProtos their Java classes were generated from.
//! tools/protodump/DumpDescriptors.java reads them through reflection; this test fetches the
//! jars with Maven, dumps their descriptors and compares them with
//! `remesos_proto::FILE_DESCRIPTOR_SET`:
//!
//! - `org.apache.mesos:mesos:1.11.0` (+ `protobuf-java:3.5.0`): the version we implement.
//!   Every message and enum must match exactly: same fields (numbers, names, types, labels,
//!   type names, defaults, packed, oneof), same enum values, nothing missing on either side.
//! - `org.apache.mesos:mesos:1.4.3` shaded-protobuf, the jar pyspark 3.5 ships: older, so
//!   only what both define is compared, but that must agree.
//!
//! Maven and Java 17 are part of the machine: without them the tests fail with a message
//! saying so. Jars and dumps are cached under `.cache/compat/` at the repository root
//! (gitignored); a warm run takes about a second.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs Maven and Java by design"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};

/// The generated `Protos` classes of every package (missing ones are skipped by the dumper,
/// which matters for the older jar).
const CLASSES: &[&str] = &[
    "org.apache.mesos.Protos",
    "org.apache.mesos.scheduler.Protos",
    "org.apache.mesos.executor.Protos",
    "org.apache.mesos.v1.Protos",
    "org.apache.mesos.v1.scheduler.Protos",
    "org.apache.mesos.v1.executor.Protos",
    "org.apache.mesos.v1.master.Protos",
    "org.apache.mesos.v1.agent.Protos",
    "org.apache.mesos.v1.quota.Protos",
    "org.apache.mesos.v1.maintenance.Protos",
    "org.apache.mesos.v1.allocator.Protos",
    "org.apache.mesos.v1.resource_provider.Protos",
];

const PROTOBUF_JAVA: &str = "com.google.protobuf:protobuf-java:3.5.0";

/// Maven and the dumper share ~/.m2 and .cache: one at a time.
static TOOLS: Mutex<()> = Mutex::new(());

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cache_dir() -> PathBuf {
    let dir = repo_root().join(".cache/compat");
    std::fs::create_dir_all(dir.join("jars")).expect("create .cache/compat/jars");
    dir
}

fn require_tool(tool: &str) {
    let found = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is required by the compatibility test (Maven fetches Apache's jars, Java 17 \
         runs tools/protodump/DumpDescriptors.java); install it, e.g. `apt-get install maven \
         openjdk-17-jdk-headless`"
    );
}

/// The jar for Maven coordinates `group:artifact:version[:jar:classifier]`, copied into
/// `.cache/compat/jars` once. `None` when Maven cannot resolve it.
fn jar(coords: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = coords.split(':').collect();
    let file = match parts.as_slice() {
        [_, a, v] => format!("{a}-{v}.jar"),
        [_, a, v, _, classifier] => format!("{a}-{v}-{classifier}.jar"),
        _ => panic!("bad coordinates {coords}"),
    };
    let dir = cache_dir().join("jars");
    let path = dir.join(&file);
    // Remembers an artifact Maven Central does not have, so later runs do not ask again.
    let missing = dir.join(format!("{file}.missing"));
    if path.exists() {
        return Some(path);
    }
    if missing.exists() {
        return None;
    }
    require_tool("mvn");
    let output = Command::new("mvn")
        .args(["-q", "-B", "dependency:copy"])
        .arg(format!("-Dartifact={coords}"))
        .arg(format!("-DoutputDirectory={}", dir.display()))
        .output()
        .expect("run mvn");
    if output.status.success() && path.exists() {
        return Some(path);
    }
    let log = String::from_utf8_lossy(&output.stdout);
    if log.contains("was not found in") || log.contains("Could not find artifact") {
        let _ = std::fs::write(&missing, log.as_bytes());
    } else {
        eprintln!("mvn could not fetch {coords}:\n{log}");
    }
    None
}

/// Apache's FileDescriptorSet from the given class path, dumped once into `.cache/compat`.
fn dump(name: &str, classpath: &[PathBuf]) -> FileDescriptorSet {
    let tool = repo_root().join("tools/protodump/DumpDescriptors.java");
    let out = cache_dir().join(format!("{name}.pb"));
    let fresh = |p: &Path| -> Option<bool> {
        let dumped = p.metadata().ok()?.modified().ok()?;
        let source = tool.metadata().ok()?.modified().ok()?;
        Some(dumped >= source)
    };
    if fresh(&out) != Some(true) {
        require_tool("java");
        let cp = std::env::join_paths(classpath).expect("class path");
        let output = Command::new("java")
            .arg("-cp")
            .arg(cp)
            .arg(&tool)
            .arg(&out)
            .args(CLASSES)
            .output()
            .expect("run java");
        assert!(
            output.status.success(),
            "DumpDescriptors failed for {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bytes = std::fs::read(&out).expect("read dump");
    FileDescriptorSet::decode(bytes.as_slice()).expect("dump is a FileDescriptorSet")
}

fn ours() -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(remesos_proto::FILE_DESCRIPTOR_SET).unwrap();
    // remesos's own service has no Apache counterpart, nor the local authorizer's ACLs
    // (Mesos's jar does not compile include/mesos/authorizer/acls.proto).
    set.file.retain(|f| {
        !f.package().starts_with("remesos")
            && !f.package().starts_with("google")
            && !f.name().starts_with("mesos/authorizer/")
    });
    set
}

// ---------------------------------------------------------------------------------------
// The comparison.

/// Every message and enum of a set, by full name (nested types and map entries included),
/// with the package of the file that defines it.
#[derive(Default)]
struct Index {
    messages: BTreeMap<String, (String, DescriptorProto)>,
    enums: BTreeMap<String, (String, EnumDescriptorProto)>,
}

impl Index {
    fn of(set: &FileDescriptorSet) -> Index {
        let mut index = Index::default();
        for file in &set.file {
            let package = file.package();
            for m in &file.message_type {
                index.add_message(package, package, m);
            }
            for e in &file.enum_type {
                index.enums.insert(
                    format!("{package}.{}", e.name()),
                    (package.to_owned(), e.clone()),
                );
            }
        }
        index
    }

    fn add_message(&mut self, package: &str, prefix: &str, m: &DescriptorProto) {
        let name = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            self.add_message(package, &name, nested);
        }
        for e in &m.enum_type {
            self.enums.insert(
                format!("{name}.{}", e.name()),
                (package.to_owned(), e.clone()),
            );
        }
        self.messages.insert(name, (package.to_owned(), m.clone()));
    }
}

/// How strictly to compare.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Same version: nothing may be missing on either side.
    Exact,
    /// An older release: compare what both define.
    Common,
}

/// The wire- and JSON-relevant facts of one field.
fn field_facts(m: &DescriptorProto, f: &FieldDescriptorProto) -> String {
    let oneof = f
        .oneof_index
        .and_then(|i| m.oneof_decl.get(usize::try_from(i).ok()?))
        .map(|o| o.name().to_owned());
    let options = f.options.as_ref();
    format!(
        "{} {:?} {:?} type_name={:?} default={:?} packed={:?} oneof={:?}",
        f.name(),
        Label::try_from(f.label.unwrap_or_default()).ok(),
        Type::try_from(f.r#type.unwrap_or_default()).ok(),
        f.type_name.as_deref().map(|t| t.trim_start_matches('.')),
        f.default_value.as_deref().map(normalize_default),
        options.and_then(|o| o.packed),
        oneof,
    )
}

/// Defaults are text; `5` and `5.0` are the same double.
fn normalize_default(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(f) if s.contains(['.', 'e', 'E']) || s.parse::<i64>().is_ok() => format!("{f:?}"),
        _ => s.to_owned(),
    }
}

/// Differences between Apache's schema and ours, one line each.
fn compare(apache: &FileDescriptorSet, ours: &FileDescriptorSet, mode: Mode) -> Vec<String> {
    let theirs = Index::of(apache);
    let mine = Index::of(ours);
    let packages: BTreeSet<&str> = ours.file.iter().map(|f| f.package()).collect();
    let mut diffs = Vec::new();

    for (name, (_, m)) in &mine.messages {
        let Some((_, a)) = theirs.messages.get(name) else {
            if mode == Mode::Exact {
                diffs.push(format!("message {name}: not in Apache's schema"));
            }
            continue;
        };
        let ours_by_number: BTreeMap<i32, &FieldDescriptorProto> =
            m.field.iter().map(|f| (f.number(), f)).collect();
        let theirs_by_number: BTreeMap<i32, &FieldDescriptorProto> =
            a.field.iter().map(|f| (f.number(), f)).collect();
        // A field is known by its number on the wire and by its name in JSON: both must agree
        // even when comparing with an older release (a renumbered field shows up here).
        for f in &m.field {
            if let Some(g) = a.field.iter().find(|g| g.name() == f.name())
                && g.number() != f.number()
            {
                diffs.push(format!(
                    "{name}.{}: ours is field {}, Apache's is field {}",
                    f.name(),
                    f.number(),
                    g.number()
                ));
            }
        }
        for (number, f) in &ours_by_number {
            match theirs_by_number.get(number) {
                Some(g) => {
                    let (x, y) = (field_facts(m, f), field_facts(a, g));
                    if x != y {
                        diffs.push(format!("{name} field {number}: ours `{x}`, Apache's `{y}`"));
                    }
                }
                None if mode == Mode::Exact => {
                    diffs.push(format!(
                        "{name} field {number} ({}): not in Apache's",
                        f.name()
                    ));
                }
                None => {}
            }
        }
        if mode == Mode::Exact {
            for (number, g) in &theirs_by_number {
                if !ours_by_number.contains_key(number) {
                    diffs.push(format!(
                        "{name} field {number} ({}): missing from ours",
                        g.name()
                    ));
                }
            }
        }
    }
    for (name, (_, e)) in &mine.enums {
        let Some((_, a)) = theirs.enums.get(name) else {
            if mode == Mode::Exact {
                diffs.push(format!("enum {name}: not in Apache's schema"));
            }
            continue;
        };
        let ours_values: BTreeMap<&str, i32> =
            e.value.iter().map(|v| (v.name(), v.number())).collect();
        let theirs_values: BTreeMap<&str, i32> =
            a.value.iter().map(|v| (v.name(), v.number())).collect();
        for (value, number) in &ours_values {
            match theirs_values.get(value) {
                Some(n) if n != number => {
                    diffs.push(format!("enum {name}.{value}: ours {number}, Apache's {n}"));
                }
                None if mode == Mode::Exact => {
                    diffs.push(format!("enum {name}.{value}: not in Apache's"));
                }
                _ => {}
            }
        }
        if mode == Mode::Exact {
            for value in theirs_values.keys() {
                if !ours_values.contains_key(value) {
                    diffs.push(format!("enum {name}.{value}: missing from ours"));
                }
            }
        }
    }
    if mode == Mode::Exact {
        for (name, (package, _)) in &theirs.messages {
            if packages.contains(package.as_str()) && !mine.messages.contains_key(name) {
                diffs.push(format!("message {name}: missing from ours"));
            }
        }
        for (name, (package, _)) in &theirs.enums {
            if packages.contains(package.as_str()) && !mine.enums.contains_key(name) {
                diffs.push(format!("enum {name}: missing from ours"));
            }
        }
    }
    diffs
}

/// Packages we compile, found in Apache's dump: a dump that silently lost them would make the
/// comparison vacuous.
fn assert_covers(apache: &FileDescriptorSet, expected: &[&str]) {
    let packages: BTreeSet<&str> = apache.file.iter().map(|f| f.package()).collect();
    for p in expected {
        assert!(
            packages.contains(p),
            "Apache's dump lacks package {p}: {packages:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn matches_apache_mesos_1_11_0() {
    let _tools = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let mesos = jar("org.apache.mesos:mesos:1.11.0").expect("fetch org.apache.mesos:mesos:1.11.0");
    let protobuf = jar(PROTOBUF_JAVA).expect("fetch protobuf-java 3.5.0");
    let apache = dump("mesos-1.11.0", &[mesos, protobuf]);
    assert_covers(
        &apache,
        &[
            "mesos",
            "mesos.v1",
            "mesos.v1.scheduler",
            "mesos.v1.executor",
            "mesos.v1.master",
        ],
    );
    let diffs = compare(&apache, &ours(), Mode::Exact);
    assert!(
        diffs.is_empty(),
        "schema differs from Mesos 1.11.0:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn agrees_with_apache_mesos_1_4_3_shaded() {
    let _tools = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    // The shaded jar carries its own protobuf runtime (relocated to org.apache.mesos.protobuf).
    // Maven Central does not serve a shaded-protobuf artifact for 1.4.3; the plain 1.4.3 jar
    // holds the same generated descriptors against the stock runtime, so it stands in.
    let classpath = match jar("org.apache.mesos:mesos:1.4.3:jar:shaded-protobuf") {
        Some(shaded) => vec![shaded],
        None => {
            eprintln!("mesos-1.4.3-shaded-protobuf.jar unavailable; using mesos-1.4.3.jar");
            vec![
                jar("org.apache.mesos:mesos:1.4.3").expect("fetch org.apache.mesos:mesos:1.4.3"),
                jar(PROTOBUF_JAVA).expect("fetch protobuf-java 3.5.0"),
            ]
        }
    };
    let apache = dump("mesos-1.4.3", &classpath);
    assert_covers(
        &apache,
        &[
            "mesos",
            "mesos.v1",
            "mesos.v1.scheduler",
            "mesos.v1.executor",
        ],
    );
    let diffs = compare(&apache, &ours(), Mode::Common);
    let (known, unexpected): (Vec<String>, Vec<String>) = diffs.into_iter().partition(|d| {
        CHANGED_SINCE_1_4_3
            .iter()
            .any(|(prefix, _)| d.starts_with(prefix))
    });
    assert!(
        unexpected.is_empty(),
        "schema disagrees with Mesos 1.4.3:\n{}",
        unexpected.join("\n")
    );
    // Keep the list honest: each entry must still be needed.
    for (prefix, why) in CHANGED_SINCE_1_4_3 {
        assert!(
            known.iter().any(|d| d.starts_with(prefix)),
            "{prefix} ({why}) no longer differs from 1.4.3; drop it from CHANGED_SINCE_1_4_3"
        );
    }
}

/// Apache's own changes between 1.4.3 and 1.11.0 (we follow 1.11.0). None touches what a
/// 1.4-era framework sends or receives: the v0 driver messages and the v1 scheduler and
/// executor APIs agree field for field.
const CHANGED_SINCE_1_4_3: &[(&str, &str)] = &[
    (
        "mesos.v1.agent.Response.GetContainers.Container field ",
        "framework_id/executor_id/executor_name relaxed from required to optional (standalone \
         containers)",
    ),
    (
        "mesos.v1.quota.QuotaRequest field 1:",
        "`force` lost its explicit `[default = false]`",
    ),
    (
        "mesos.v1.resource_provider.",
        "the experimental resource provider API was reshaped (Call.Update -> \
         UpdateOperationStatus, Event.Operation -> ApplyOperation)",
    ),
];

/// The comparison must be able to fail: each tampering of our own schema is reported.
#[test]
fn tampered_descriptors_are_detected() {
    let reference = ours();
    assert!(compare(&reference, &ours(), Mode::Exact).is_empty());

    let tamper = |edit: &dyn Fn(&mut FileDescriptorSet)| {
        let mut changed = ours();
        edit(&mut changed);
        (
            compare(&reference, &changed, Mode::Exact),
            compare(&reference, &changed, Mode::Common),
        )
    };
    fn message<'a>(
        set: &'a mut FileDescriptorSet,
        package: &str,
        name: &str,
    ) -> &'a mut DescriptorProto {
        set.file
            .iter_mut()
            .filter(|f| f.package() == package)
            .flat_map(|f| f.message_type.iter_mut())
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("{package}.{name}"))
    }
    fn field<'a>(m: &'a mut DescriptorProto, name: &str) -> &'a mut FieldDescriptorProto {
        m.field.iter_mut().find(|f| f.name() == name).unwrap()
    }

    type Edit = Box<dyn Fn(&mut FileDescriptorSet)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "field number",
            Box::new(|s| field(message(s, "mesos.v1", "TaskStatus"), "uuid").number = Some(99)),
        ),
        (
            "field type",
            Box::new(|s| {
                field(message(s, "mesos.v1", "MasterInfo"), "ip").r#type = Some(Type::Int32 as i32)
            }),
        ),
        (
            "label",
            Box::new(|s| {
                field(message(s, "mesos.v1", "FrameworkInfo"), "user").label =
                    Some(Label::Optional as i32)
            }),
        ),
        (
            "default",
            Box::new(|s| {
                field(message(s, "mesos.v1", "Filters"), "refuse_seconds").default_value =
                    Some("6".into())
            }),
        ),
        (
            "name",
            Box::new(|s| {
                field(message(s, "mesos", "TaskStatus"), "slave_id").name = Some("agent_id".into())
            }),
        ),
        (
            "enum value",
            Box::new(|s| {
                let file = s
                    .file
                    .iter_mut()
                    .find(|f| f.package() == "mesos.v1")
                    .unwrap();
                let state = file
                    .enum_type
                    .iter_mut()
                    .find(|e| e.name() == "TaskState")
                    .unwrap();
                state
                    .value
                    .iter_mut()
                    .find(|v| v.name() == "TASK_KILLING")
                    .unwrap()
                    .number = Some(42);
            }),
        ),
    ];
    for (what, edit) in cases {
        let (exact, common) = tamper(edit.as_ref());
        assert!(!exact.is_empty(), "tampered {what} not detected (exact)");
        assert!(!common.is_empty(), "tampered {what} not detected (common)");
    }

    // A message that is dropped only matters when the versions should be the same.
    let (exact, common) = tamper(&|s| {
        let file = s
            .file
            .iter_mut()
            .find(|f| f.package() == "mesos.v1")
            .unwrap();
        file.message_type.retain(|m| m.name() != "Filters");
    });
    assert!(
        exact.iter().any(|d| d.contains("mesos.v1.Filters")),
        "{exact:?}"
    );
    assert!(common.is_empty(), "{common:?}");
}
