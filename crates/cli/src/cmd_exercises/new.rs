//! `gauntlet exercises new ID --runtime R`: a package that passes `exercises check` as
//! it is: a statement (`statement.md`), a starter that fails some tests, a
//! solution that passes them all, and tests on the runner the runtime provides. The
//! author then replaces the small word-count (or counter) exercise with their own.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gauntlet_exercise::ExerciseId;

use crate::Exit;

/// The runtimes a package can be scaffolded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    Python,
    Node,
    Shell,
    Hardhat,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Shell => "shell",
            Runtime::Hardhat => "hardhat",
        }
    }

    /// (path in the package, template) for every file, `{{module}}` and `{{contract}}`
    /// expanded in the paths too.
    fn files(self) -> &'static [(&'static str, &'static str)] {
        macro_rules! t {
            ($runtime:literal, $file:literal) => {
                include_str!(concat!("templates/", $runtime, "/", $file))
            };
        }
        match self {
            Runtime::Python => &[
                ("exercise.yaml", t!("python", "exercise.yaml")),
                ("statement.md", t!("python", "statement.md")),
                ("starter/{{module}}.py", t!("python", "starter.py")),
                ("solution/{{module}}.py", t!("python", "solution.py")),
                ("tests/run.py", t!("python", "run.py")),
            ],
            Runtime::Node => &[
                ("exercise.yaml", t!("node", "exercise.yaml")),
                ("statement.md", t!("node", "statement.md")),
                ("starter/{{module}}.js", t!("node", "starter.js")),
                ("solution/{{module}}.js", t!("node", "solution.js")),
                ("tests/{{module}}.test.js", t!("node", "test.js")),
            ],
            Runtime::Shell => &[
                ("exercise.yaml", t!("shell", "exercise.yaml")),
                ("statement.md", t!("shell", "statement.md")),
                ("starter/{{module}}.sh", t!("shell", "starter.sh")),
                ("solution/{{module}}.sh", t!("shell", "solution.sh")),
                ("tests/run.py", t!("shell", "run.py")),
            ],
            Runtime::Hardhat => &[
                ("exercise.yaml", t!("hardhat", "exercise.yaml")),
                ("statement.md", t!("hardhat", "statement.md")),
                ("README.md", t!("hardhat", "README.md")),
                (
                    "starter/contracts/{{contract}}.sol",
                    t!("hardhat", "starter.sol"),
                ),
                (
                    "solution/contracts/{{contract}}.sol",
                    t!("hardhat", "solution.sol"),
                ),
                ("tests/{{contract}}.js", t!("hardhat", "test.js")),
            ],
        }
    }
}

/// The names a package's files are derived from.
struct Names {
    id: String,
    title: String,
    /// A python module name, also used for node and shell file names: `count_words`.
    module: String,
    /// A Solidity contract name: `CountWords`.
    contract: String,
}

impl Names {
    fn new(id: &ExerciseId, title: Option<String>) -> Self {
        let id = id.as_str().to_owned();
        let words: Vec<&str> = id.split('-').filter(|w| !w.is_empty()).collect();
        let title = title.unwrap_or_else(|| {
            let mut t = words.join(" ");
            if let Some(first) = t.get(..1) {
                t = first.to_uppercase() + &t[1..];
            }
            t
        });
        let mut module = words.join("_");
        if module.starts_with(|c: char| c.is_ascii_digit()) {
            module.insert_str(0, "ex_");
        }
        let mut contract: String = words
            .iter()
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        if contract.starts_with(|c: char| c.is_ascii_digit()) {
            contract.insert(0, 'C');
        }
        Names {
            id,
            title,
            module,
            contract,
        }
    }

    fn expand(&self, template: &str) -> String {
        // A JSON string is a valid YAML double-quoted scalar.
        let title_yaml = serde_json::to_string(&self.title).unwrap_or_else(|_| "\"\"".into());
        template
            .replace("{{id}}", &self.id)
            .replace("{{title_yaml}}", &title_yaml)
            .replace("{{title_md}}", &markdown_text(&self.title))
            .replace("{{title_line}}", &comment_text(&self.title))
            .replace("{{title}}", &self.title)
            .replace("{{module}}", &self.module)
            .replace("{{contract}}", &self.contract)
    }
}

/// A title as Markdown text: every punctuation character that could start markup
/// (emphasis, a link, raw HTML, code) is escaped, so the heading reads as typed.
fn markdown_text(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A title inside a one-line source comment of any of the runtimes' languages: nothing
/// that could end the comment or read as a NatSpec tag.
fn comment_text(title: &str) -> String {
    title.replace("*/", "* /").replace('@', "(at)")
}

/// Writes the package `<parent>/<id>` and returns its folder. Refuses an existing folder.
pub fn scaffold(
    id: &str,
    runtime: Runtime,
    parent: &Path,
    title: Option<String>,
) -> Result<PathBuf, Exit> {
    let id = ExerciseId::parse(id).map_err(Exit::usage)?;
    if let Some(t) = &title {
        if t.trim().is_empty() || t.chars().any(char::is_control) {
            return Err(Exit::usage(
                "--title must be one line of text, not empty".to_owned(),
            ));
        }
    }
    let names = Names::new(&id, title);
    let dir = parent.join(id.as_str());
    if dir.exists() {
        return Err(Exit::usage(format!(
            "{} already exists: choose another id or folder",
            dir.display()
        )));
    }
    fs::create_dir_all(parent).map_err(|e| Exit::usage(format!("{}: {e}", parent.display())))?;
    // Written in a staging folder and renamed, so a failure leaves no half package.
    let staging = parent.join(format!(".{}.new-{}", id.as_str(), std::process::id()));
    let write = || -> std::io::Result<()> {
        fs::create_dir(&staging)?;
        for (path, template) in runtime.files() {
            let path = staging.join(names.expand(path));
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::File::create_new(&path)?.write_all(names.expand(template).as_bytes())?;
        }
        fs::rename(&staging, &dir)
    };
    if let Err(e) = write() {
        let _ = fs::remove_dir_all(&staging);
        return Err(Exit::failed(format!("writing {}: {e}", dir.display())));
    }
    Ok(dir)
}

/// What to do next, for the author.
pub fn next_steps(dir: &Path, runtime: Runtime) -> String {
    let d = dir.display();
    format!(
        "created {d} ({} runtime): a small exercise that passes its check as it is.\n\
         Next:\n  \
         gauntlet exercises check {d}     # the solution scores 100, the starter does not\n  \
         then make it yours: the statement (statement.md), the starter, the solution and\n  \
         the tests (exercises/README.md in the Gauntlet repository is the guide)",
        runtime.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_ids() {
        let cases = [
            ("count-words", "Count words", "count_words", "CountWords"),
            ("isogram", "Isogram", "isogram", "Isogram"),
            ("99-bottles", "99 bottles", "ex_99_bottles", "C99Bottles"),
            ("a--b", "A b", "a_b", "AB"),
        ];
        for (id, title, module, contract) in cases {
            let n = Names::new(&ExerciseId::parse(id).unwrap(), None);
            assert_eq!(
                (n.title.as_str(), n.module.as_str(), n.contract.as_str()),
                (title, module, contract),
                "{id}"
            );
        }
        let n = Names::new(
            &ExerciseId::parse("x").unwrap(),
            Some("Say \"hi\": now".into()),
        );
        assert_eq!(
            n.expand("title: {{title_yaml}}"),
            r#"title: "Say \"hi\": now""#
        );
    }
}
