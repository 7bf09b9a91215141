//! The imports match docs/ARCHITECTURE.md: every `crate::` path in the server's `src/` names
//! a part at or below the importing file's layer (entry → web → services → storage and
//! clients → domain and the foundation), storage and clients never import each other, and
//! handlers and pages never reach the database themselves. Test modules (`#[cfg(test)]`)
//! may import anything.

use std::path::{Path, PathBuf};

/// A part of the server and its layer (higher may import lower).
fn part_of(module: &str) -> (&'static str, u8) {
    match module {
        "main" | "lib" | "cli" | "startup" | "check" | "check_sessions" | "live" => ("entry", 5),
        "web" => ("web", 4),
        "services" => ("services", 3),
        "db" => ("storage", 2),
        "clients" => ("clients", 2),
        "domain" | "config" | "clock" | "error" | "metrics" => ("domain", 1),
        other => panic!("src/{other} belongs to no part: add it to docs/ARCHITECTURE.md and here"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without its `#[cfg(test)] mod … { … }` blocks.
fn without_test_modules(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else { break };
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `crate::a::b` paths in `src` (the first two segments).
fn crate_paths(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in src.match_indices("crate::") {
        let path: String = src[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).take(2).collect();
        if !segs.is_empty() {
            out.push(segs.join("::"));
        }
    }
    out
}

#[test]
fn imports_only_go_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let own_module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let (own_part, own_layer) = part_of(own_module);
        let src = without_test_modules(&std::fs::read_to_string(file).unwrap());
        for path in crate_paths(&src) {
            let top = path.split("::").next().unwrap();
            let (part, layer) = part_of(top);
            let upward = layer > own_layer;
            let sideways = layer == 2 && own_layer == 2 && part != own_part;
            let handler_or_page_to_db = (rel.starts_with("web/handlers/")
                || rel.starts_with("web/pages/"))
                && part == "storage";
            if upward || sideways || handler_or_page_to_db {
                wrong.push(format!(
                    "src/{rel} ({own_part}) imports crate::{path} ({part})"
                ));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against docs/ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_an_upward_import_and_skips_test_modules() {
    let src = "use crate::web::http::Request;\n#[cfg(test)]\nmod tests {\n    use crate::startup::x;\n}\nfn f() { crate::db::tenant::find(); }\n";
    let paths = crate_paths(&without_test_modules(src));
    assert_eq!(paths, ["web::http", "db::tenant"]);
    assert_eq!(part_of("web").1, 4);
    assert!(part_of("services").1 < part_of("web").1);
}

/// `src/a/b.rs` → `a::b` (`mod.rs` names its folder).
fn module_of(rel: &str) -> String {
    rel.trim_end_matches(".rs")
        .trim_end_matches("/mod")
        .replace('/', "::")
}

#[test]
fn no_two_modules_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let src = without_test_modules(&std::fs::read_to_string(f).unwrap());
            (module_of(&rel), src)
        })
        .collect();
    let names: Vec<&str> = modules.iter().map(|(m, _)| m.as_str()).collect();
    // The module a `crate::` path lands in: the longest module name it starts with.
    let imports = |src: &str| -> Vec<String> {
        let mut out = Vec::new();
        for (i, _) in src.match_indices("crate::") {
            let path: String = src[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if let Some(m) = names
                .iter()
                .filter(|n| path == **n || path.starts_with(&format!("{n}::")))
                .max_by_key(|n| n.len())
            {
                out.push(m.to_string());
            }
        }
        out
    };
    let edges: Vec<(String, Vec<String>)> = modules
        .iter()
        .map(|(m, src)| (m.clone(), imports(src)))
        .collect();
    let mut cycles = Vec::new();
    for (a, to) in &edges {
        for b in to {
            let back = edges
                .iter()
                .any(|(m, to)| m == b && to.iter().any(|t| t == a));
            if a < b && back {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(
        cycles.is_empty(),
        "modules importing each other:\n{}",
        cycles.join("\n")
    );
}
