//! The crate graph ARCHITECTURE.md promises, checked against what cargo
//! actually resolves. The rules are read from the document's "Dependency
//! rules" table, so the document and the test cannot drift apart: a crate
//! that gains a workspace dependency the table does not allow, or reaches a
//! forbidden crate (also through another crate), fails here.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;

/// One row of the table: a workspace crate, the workspace crates it may
/// depend on, and the crates it must never reach.
#[derive(Debug)]
struct Rule {
    krate: String,
    may_use: BTreeSet<String>,
    never: BTreeSet<String>,
}

/// The rows of the Markdown table that follows the "Dependency rules"
/// heading: `| crate | may depend on | never reaches |`, items separated by
/// commas or spaces, `-` for none.
fn rules(doc: &str) -> Vec<Rule> {
    let section = doc
        .split_once("### Dependency rules")
        .map(|(_, rest)| rest)
        .expect("ARCHITECTURE.md has a '### Dependency rules' section");
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split([',', ' '])
            .map(|s| s.trim().trim_matches('`'))
            .filter(|s| !s.is_empty() && *s != "-")
            .map(str::to_string)
            .collect()
    };
    section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').collect();
            let krate = cells.first()?.trim().trim_matches('`');
            if !krate.starts_with("tvgate") || cells.len() != 3 {
                return None; // the header and the separator row
            }
            Some(Rule {
                krate: krate.to_string(),
                may_use: names(cells[1]),
                never: names(cells[2]),
            })
        })
        .collect()
}

/// The triple rustc builds for here (`host:` of `rustc -vV`).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .to_string()
}

/// `cargo metadata` of the workspace for this platform, resolved offline
/// from Cargo.lock (other platforms' crates need not be downloaded).
fn metadata(root: &Path) -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Package id → (name, ids of its normal, non-dev dependencies).
fn normal_graph(meta: &Value) -> HashMap<String, (String, Vec<String>)> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .filter_map(|node| {
            let id = node["id"].as_str()?;
            let deps = node["deps"]
                .as_array()?
                .iter()
                .filter(|d| {
                    // A dependency used as a normal (or build) dependency on
                    // any platform; dev-dependencies only serve tests.
                    d["dep_kinds"].as_array().is_some_and(|kinds| {
                        kinds.iter().any(|k| k["kind"].as_str() != Some("dev"))
                    })
                })
                .filter_map(|d| d["pkg"].as_str().map(str::to_string))
                .collect();
            Some((id.to_string(), (names.get(id)?.to_string(), deps)))
        })
        .collect()
}

#[test]
fn crates_depend_only_as_architecture_md_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let rules = rules(&doc);
    let meta = metadata(root);
    let graph = normal_graph(&meta);
    let workspace: HashSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let id_of = |name: &str| {
        graph
            .iter()
            .find(|(id, (n, _))| n == name && workspace.contains(id.as_str()))
            .map(|(id, _)| id.clone())
    };

    // Every library crate of the workspace has a row (the root package, the
    // binary, may use them all).
    let covered: BTreeSet<&str> = rules.iter().map(|r| r.krate.as_str()).collect();
    for id in &workspace {
        let name = &graph[*id].0;
        assert!(
            name == "tvgate" || covered.contains(name.as_str()),
            "ARCHITECTURE.md's dependency rules have no row for {name}"
        );
    }

    let mut broken = Vec::new();
    for rule in &rules {
        let id =
            id_of(&rule.krate).unwrap_or_else(|| panic!("{} is not a workspace crate", rule.krate));
        for dep in &graph[&id].1 {
            let name = &graph[dep].0;
            if workspace.contains(dep.as_str()) && !rule.may_use.contains(name) {
                broken.push(format!("{} depends on {name}", rule.krate));
            }
        }
        // Breadth-first over normal dependencies: what the crate reaches.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<(&str, Vec<&str>)> = VecDeque::from([(id.as_str(), vec![])]);
        while let Some((at, path)) = queue.pop_front() {
            for dep in &graph[at].1 {
                if !seen.insert(dep.as_str()) {
                    continue;
                }
                let name = graph[dep].0.as_str();
                let mut via = path.clone();
                via.push(name);
                if rule.never.contains(name) {
                    broken.push(format!(
                        "{} reaches {name} (via {})",
                        rule.krate,
                        via.join(" → ")
                    ));
                }
                queue.push_back((dep.as_str(), via));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the crate graph breaks ARCHITECTURE.md's dependency rules:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_rules_table_is_read() {
    let doc = "x\n### Dependency rules\n\ntext\n\n| crate | may depend on | never reaches |\n|---|---|---|\n\
               | `tvgate-core` | `tvgate-formats` | tokio, `reqwest` |\n| `tvgate-formats` | - | tokio |\n\nafter\n| `tvgate-x` | a | b |\n";
    let r = rules(doc);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].krate, "tvgate-core");
    assert_eq!(
        r[0].may_use.iter().collect::<Vec<_>>(),
        vec!["tvgate-formats"]
    );
    assert_eq!(r[0].never.len(), 2);
    assert!(r[1].may_use.is_empty());
}

/// The rows of the table after "### Dependencies and what each is for":
/// `| crate | dependency | kind | purpose |` → ((crate, dependency), kind).
fn purposes(doc: &str) -> BTreeMap<(String, String), String> {
    let section = doc
        .split_once("### Dependencies and what each is for")
        .map(|(_, rest)| rest)
        .expect("ARCHITECTURE.md has a '### Dependencies and what each is for' section");
    section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            let [krate, dep, kind, purpose] = cells[..] else {
                return None;
            };
            if !krate.starts_with("tvgate") {
                return None; // the header and the separator row
            }
            assert!(!purpose.is_empty(), "{krate} → {dep}: no purpose given");
            Some(((krate.to_string(), dep.to_string()), kind.to_string()))
        })
        .collect()
}

#[test]
fn every_direct_dependency_has_its_purpose_in_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let documented = purposes(&doc);
    let meta = metadata(root);
    let members: HashSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // (crate, dependency) → "dev" when only a dev-dependency, else "normal".
    let mut declared: BTreeMap<(String, String), String> = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        if !package["id"]
            .as_str()
            .is_some_and(|id| members.contains(id))
        {
            continue;
        }
        let krate = package["name"].as_str().expect("name");
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let name = dep["name"].as_str().expect("dependency name");
            let kind = match dep["kind"].as_str() {
                Some("dev") => "dev",
                _ => "normal",
            };
            let entry = declared
                .entry((krate.to_string(), name.to_string()))
                .or_insert_with(|| kind.to_string());
            if kind == "normal" {
                *entry = "normal".to_string();
            }
        }
    }
    let mut wrong = Vec::new();
    for ((krate, dep), kind) in &declared {
        match documented.get(&(krate.clone(), dep.clone())) {
            None => wrong.push(format!("{krate} → {dep} ({kind}) has no line")),
            Some(k) if k != kind => {
                wrong.push(format!("{krate} → {dep} is {kind}, the table says {k}"))
            }
            Some(_) => {}
        }
    }
    for (krate, dep) in documented.keys() {
        if !declared.contains_key(&(krate.clone(), dep.clone())) {
            wrong.push(format!(
                "{krate} → {dep} is in the table but not a dependency"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's dependency table and the manifests disagree:\n  {}",
        wrong.join("\n  ")
    );
}
