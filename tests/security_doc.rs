//! SECURITY.md cites a test for every claim it makes, as `alias::test_name` with the aliases of
//! its "How tests are cited" table. This keeps the citations true: every cited test must exist
//! in the file its alias names, so a renamed or deleted test breaks the build of the document's
//! promises, not just the document.

use std::collections::BTreeMap;
use std::path::Path;

/// The aliases of SECURITY.md's table, read from the document itself: rows of the form
/// ``| `alias` | `tests/file.rs` |``.
fn aliases(document: &str) -> BTreeMap<String, String> {
    document
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let alias = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let file = cells.get(2)?.strip_prefix('`')?.split('`').next()?;
            file.starts_with("tests/").then(|| (alias.to_owned(), file.to_owned()))
        })
        .collect()
}

/// Every `` `prefix::name` `` in the document whose prefix is an alias or a `src/` file.
fn citations(document: &str, aliases: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for span in document.split('`').skip(1).step_by(2) {
        let Some((prefix, name)) = span.split_once("::") else { continue };
        let name: String =
            name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let file = if prefix.starts_with("src/") && prefix.ends_with(".rs") {
            prefix.to_owned()
        } else if let Some(file) = aliases.get(prefix) {
            file.clone()
        } else {
            continue;
        };
        if !name.is_empty() {
            found.push((file, name));
        }
    }
    found
}

#[test]
fn every_cited_test_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let document = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let aliases = aliases(&document);
    assert!(aliases.len() >= 10, "the alias table was not found: {aliases:?}");
    let citations = citations(&document, &aliases);
    assert!(citations.len() > 300, "only {} citations found", citations.len());

    let mut missing = Vec::new();
    for (file, name) in &citations {
        let source = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|error| panic!("{file}, cited by SECURITY.md: {error}"));
        let declared = source.match_indices(&format!("fn {name}")).any(|(at, matched)| {
            let next = source[at + matched.len()..].chars().next();
            next.is_some_and(|c| c == '(' || c == '<')
        });
        if !declared {
            missing.push(format!("{file}: fn {name}"));
        }
    }
    println!("SECURITY.md: {} citations checked", citations.len());
    assert!(missing.is_empty(), "SECURITY.md cites tests that do not exist: {missing:#?}");
}
