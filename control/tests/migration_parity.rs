//! The SQLite and PostgreSQL migration folders say the same thing: same steps, same statements
//! but for the dialect rules and the per-dialect steps of `migrations/DIALECTS.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
}

fn steps(dialect: &str) -> BTreeSet<String> {
    std::fs::read_dir(root().join(dialect))
        .expect("migration folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// The statements of a file: comments dropped, whitespace collapsed.
fn normalized(text: &str) -> String {
    text.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of a markdown table in DIALECTS.md under `heading`: cells without backticks.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc.find(heading).expect("heading");
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("migration");
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn both_folders_hold_the_same_migrations() {
    let doc = std::fs::read_to_string(root().join("DIALECTS.md")).expect("DIALECTS.md");
    let rules = table(&doc, "## Line rules");
    let per_dialect = table(&doc, "## Whole steps written per dialect");
    assert!(!rules.is_empty() && !per_dialect.is_empty(), "tables parse");
    let sqlite = steps("sqlite");
    assert_eq!(sqlite, steps("postgres"), "the same steps in both folders");
    for step in &sqlite {
        let (lite_path, pg_path) = (
            root().join("sqlite").join(step),
            root().join("postgres").join(step),
        );
        if let Some(row) = per_dialect.iter().find(|r| r[0] == *step) {
            assert_eq!(
                (sha256(&lite_path), sha256(&pg_path)),
                (row[2].clone(), row[3].clone()),
                "{step} is written per dialect: its files changed since DIALECTS.md was reviewed"
            );
            continue;
        }
        let mut lite = normalized(&std::fs::read_to_string(&lite_path).expect("sqlite step"));
        for rule in &rules {
            lite = lite.replace(&normalized(&rule[0]), &normalized(&rule[1]));
        }
        let pg = normalized(&std::fs::read_to_string(&pg_path).expect("postgres step"));
        if lite != pg {
            let at = lite
                .chars()
                .zip(pg.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(40))
                    .take(120)
                    .collect::<String>()
            };
            panic!(
                "{step}: the folders differ beyond migrations/DIALECTS.md\n sqlite:   ...{}\n postgres: ...{}",
                around(&lite),
                around(&pg)
            );
        }
    }
}
