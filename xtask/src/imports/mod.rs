//! `cargo xtask ci`'s import-circle check: inside each crate of the
//! workspace, no two source files may import from each other, directly or
//! around a longer circle.
//!
//! A file depends on another when it names a module of that file in a
//! `use` or in a path (`crate::…`, `super::…`, `self::…`, or a child
//! module's name). Not counted:
//! - a file naming one of its own ancestor modules (`super::Ctx`,
//!   `crate::Error`): a module lives inside its ancestors, and using what
//!   they define is using its own namespace — the parent listing its
//!   children while they use its types is the module tree, not a circle.
//!   The ancestor's own code naming a descendant does count, so a circle
//!   through siblings (or cousins) is still found whichever way it is
//!   written;
//! - re-exports (`pub use`, `pub(crate) use`): a parent listing what its
//!   children offer is its surface, not its logic;
//! - `mod` declarations;
//! - anything under `#[cfg(test)]` (a test may reach anywhere);
//! - names inside comments and strings.
//!
//! A crate is every target's root (`src/lib.rs`, `src/main.rs`,
//! `src/bin/*`, `tests/*.rs`, `benches/*.rs`, `examples/*.rs`) and the
//! files its `mod` declarations reach.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

mod graph;
mod lex;
mod scan;

use scan::{Reference, Scanned};

/// One crate's files, modules and the references between them.
struct Crate {
    files: Vec<PathBuf>,
    /// Per file, the module path it holds.
    file_modules: Vec<Vec<String>>,
    /// Module path → the file that holds it (an inline module's is its file's).
    modules: HashMap<Vec<String>, usize>,
    /// Module path → the names of its child modules.
    children: HashMap<Vec<String>, BTreeSet<String>>,
    /// Per file, what it names.
    references: Vec<Vec<Reference>>,
}

/// A file naming another: where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    pub line: usize,
    pub text: String,
}

/// The circles in the workspace at `root`, one message per circle.
pub(crate) fn circles(root: &Path) -> Result<Vec<String>> {
    let mut seen: BTreeSet<Vec<PathBuf>> = BTreeSet::new();
    let mut messages = Vec::new();
    for target_root in target_roots(root)? {
        let krate = load_crate(&target_root)?;
        let edges = krate.edges();
        for circle in graph::circles(krate.files.len(), &edges) {
            let mut files: Vec<PathBuf> = circle.iter().map(|f| krate.files[*f].clone()).collect();
            files.sort();
            if !seen.insert(files) {
                continue;
            }
            let mut message = String::from("import circle:");
            for (i, from) in circle.iter().enumerate() {
                let to = circle[(i + 1) % circle.len()];
                let edge = &edges[&(*from, to)];
                message.push_str(&format!(
                    "\n      {}:{} → {} ({})",
                    relative(root, &krate.files[*from]),
                    edge.line,
                    relative(root, &krate.files[to]),
                    edge.text
                ));
            }
            messages.push(message);
        }
    }
    Ok(messages)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Every target root of every package below `root`.
fn target_roots(root: &Path) -> Result<Vec<PathBuf>> {
    let mut roots = Vec::new();
    for package in packages(root)? {
        for file in ["src/lib.rs", "src/main.rs"] {
            let path = package.join(file);
            if path.is_file() {
                roots.push(path);
            }
        }
        for dir in ["src/bin", "tests", "benches", "examples"] {
            let Ok(entries) = std::fs::read_dir(package.join(dir)) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            found.sort();
            for path in found {
                if path.extension().is_some_and(|e| e == "rs") {
                    roots.push(path);
                } else if dir == "src/bin" && path.join("main.rs").is_file() {
                    roots.push(path.join("main.rs"));
                }
            }
        }
    }
    Ok(roots)
}

/// The directories below `root` with a `Cargo.toml`, build output and
/// hidden directories left out.
fn packages(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
            found.push(dir.clone());
        }
        let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() && !name.starts_with('.') && name != "target" && name != "src" {
                pending.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn load_crate(root: &Path) -> Result<Crate> {
    let mut krate = Crate {
        files: Vec::new(),
        file_modules: Vec::new(),
        modules: HashMap::new(),
        children: HashMap::new(),
        references: Vec::new(),
    };
    // (file, its module path, whether its child files live beside it)
    let mut pending: Vec<(PathBuf, Vec<String>, bool)> = vec![(root.to_path_buf(), Vec::new(), true)];
    while let Some((path, module, owns_dir)) = pending.pop() {
        let source = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let file = krate.files.len();
        krate.files.push(path.clone());
        krate.file_modules.push(module.clone());
        let Scanned { modules, references } = scan::scan(&source, &module);
        krate.modules.insert(module.clone(), file);
        for declared in modules {
            let parent = declared.path[..declared.path.len() - 1].to_vec();
            let name = declared.path[declared.path.len() - 1].clone();
            krate.children.entry(parent).or_default().insert(name.clone());
            if declared.inline {
                krate.modules.insert(declared.path, file);
                continue;
            }
            let mut dir = if owns_dir {
                path.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                path.with_extension("")
            };
            for inline in &declared.path[module.len()..declared.path.len() - 1] {
                dir.push(inline);
            }
            let flat = dir.join(format!("{name}.rs"));
            let nested = dir.join(&name).join("mod.rs");
            let child = if flat.is_file() {
                (flat, false)
            } else if nested.is_file() {
                (nested, true)
            } else {
                bail!("{}: `mod {name};` has no file", path.display());
            };
            pending.push((child.0, declared.path, child.1));
        }
        krate.references.push(references);
    }
    Ok(krate)
}

impl Crate {
    /// The file-to-file dependencies, each with its first place.
    fn edges(&self) -> BTreeMap<(usize, usize), Edge> {
        let mut edges = BTreeMap::new();
        for (from, references) in self.references.iter().enumerate() {
            for reference in references {
                let Some(to) = self.resolve(reference) else {
                    continue;
                };
                let ancestor = self.file_modules[from].starts_with(&self.file_modules[to]);
                if to != from && !ancestor {
                    edges.entry((from, to)).or_insert_with(|| Edge {
                        line: reference.line,
                        text: reference.segments.join("::"),
                    });
                }
            }
        }
        edges
    }

    /// The file a reference names, if it names one of this crate's modules.
    fn resolve(&self, reference: &Reference) -> Option<usize> {
        let segments = &reference.segments;
        let first = segments.first()?.as_str();
        let mut absolute: Vec<String> = match first {
            "crate" | "$crate" => Vec::new(),
            "self" | "super" => reference.module.clone(),
            name if self
                .children
                .get(&reference.module)
                .is_some_and(|c| c.contains(name)) =>
            {
                let mut path = reference.module.clone();
                path.push(name.to_owned());
                path
            }
            _ => return None,
        };
        let mut rest = &segments[1..];
        if first == "super" {
            absolute.pop()?;
            while rest.first().is_some_and(|s| s == "super") {
                absolute.pop()?;
                rest = &rest[1..];
            }
        }
        absolute.extend(rest.iter().cloned());
        (0..=absolute.len())
            .rev()
            .find_map(|len| self.modules.get(&absolute[..len]).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, content) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-imports-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_circle_through_three_files_is_found_and_shown() {
        let dir = temp_dir("circle");
        write(
            &dir,
            &[
                ("Cargo.toml", "[package]\nname = \"x\"\n"),
                ("src/lib.rs", "mod a;\nmod b;\nmod c;\npub use a::A;\n"),
                // A child using its parent's items is not a circle by itself.
                ("src/b/child.rs", "use super::B;\n"),
                ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
                (
                    "src/b/mod.rs",
                    "mod child;\nmod inner;\npub struct B;\nfn f() { inner::g(); child::h(); }\n",
                ),
                ("src/b/inner.rs", "pub fn g() { let _ = crate::c::C; }\n"),
                ("src/c.rs", "use super::{a::{self, A}};\npub struct C;\n"),
            ],
        );
        let found = circles(&dir).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let circle = &found[0];
        for expected in [
            "src/a.rs:1 → src/b/mod.rs (crate::b::B)",
            "src/b/mod.rs:4 → src/b/inner.rs (inner::g)",
            "src/b/inner.rs:1 → src/c.rs (crate::c::C)",
            "src/c.rs:1 → src/a.rs (super::a)",
        ] {
            assert!(circle.contains(expected), "{expected} not in {circle}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn re_exports_tests_comments_and_other_crates_are_not_circles() {
        let dir = temp_dir("clean");
        write(
            &dir,
            &[
                ("Cargo.toml", "[package]\nname = \"x\"\n"),
                (
                    "src/lib.rs",
                    "mod a;\nmod b;\npub use a::A;\npub(crate) use b::{B, helper};\npub struct Error;\n",
                ),
                // a and b name each other only in a test, a comment and a string.
                (
                    "src/a.rs",
                    "use crate::Error;\n/// See [`crate::b::B`].\npub struct A;\n\
                     #[cfg(test)]\nmod tests { use crate::b::B; }\n",
                ),
                (
                    "src/b.rs",
                    "use crate::a::A;\nconst S: &str = \"crate::a\";\npub struct B;\npub fn helper() {}\n",
                ),
                // Another target of the same package is another crate.
                ("src/main.rs", "mod a;\nfn main() { x::A; }\n"),
            ],
        );
        assert_eq!(circles(&dir).unwrap(), Vec::<String>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
