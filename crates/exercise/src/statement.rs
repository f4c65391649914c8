//! `statement.md`: what a learner reads before writing code. CommonMark with fenced
//! code, checked here so that what an author writes is what a learner sees: the app
//! shows sanitised HTML, so anything the sanitiser or the page's content policy would
//! drop (raw HTML, images from elsewhere, links into the package) is refused with its
//! line instead of vanishing silently.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag};

/// The statement's file name, at the package root beside `exercise.yaml`.
pub const STATEMENT: &str = "statement.md";
/// Largest statement accepted.
pub const MAX_STATEMENT_BYTES: u64 = 64 * 1024;

/// Why a statement was refused, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct StatementError {
    pub line: usize,
    pub message: String,
}

/// The Markdown extensions a statement may use (and the renderer enables): tables,
/// strikethrough and task lists besides CommonMark.
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Checks a statement's text: not blank, no raw HTML, images only as `data:` URLs,
/// links only to `http:`, `https:` or `mailto:` addresses.
pub fn check_statement(text: &str) -> Result<(), StatementError> {
    if text.trim().is_empty() {
        return Err(StatementError {
            line: 1,
            message: "the statement is empty".into(),
        });
    }
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        let refuse = |message: String| {
            Err(StatementError {
                line: line_of(range.start),
                message,
            })
        };
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let tag: String = html.trim().chars().take(40).collect();
                return refuse(format!(
                    "raw HTML ({tag}) is not shown to learners: write it in Markdown"
                ));
            }
            Event::Start(Tag::Image { dest_url, .. }) if !dest_url.starts_with("data:image/") => {
                return refuse(format!(
                    "image {dest_url:?}: only data:image/ URLs are shown (the app loads \
                     nothing from elsewhere, and the package's files are not served)"
                ));
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) if !link_allowed(link_type, &dest_url) => {
                return refuse(format!(
                    "link {dest_url:?}: only http:, https: and mailto: links are allowed (the \
                     package's other files are not served to learners)"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn link_allowed(link_type: LinkType, dest: &str) -> bool {
    if matches!(link_type, LinkType::Email) {
        return true;
    }
    let lower = dest.trim().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_markdown_with_fenced_code_passes() {
        let text = "# Title\n\nWrite `f`.\n\n```python\nprint(1 < 2)\n```\n\n\
                    | a | b |\n|---|---|\n| 1 | 2 |\n\nSee <https://example.org> and \
                    [docs](https://docs.python.org/3/).\n";
        check_statement(text).unwrap();
    }

    #[test]
    fn html_inside_code_is_text_not_html() {
        check_statement("Use `<div>` here:\n\n```html\n<script>x</script>\n```\n").unwrap();
    }

    #[test]
    fn refusals_name_their_line() {
        let cases = [
            ("# T\n\n<script>alert(1)</script>\n", 3, "raw HTML"),
            ("# T\n\nHello <b>world</b>\n", 3, "raw HTML"),
            ("# T\n\n\n![x](diagram.png)\n", 4, "image"),
            ("# T\n[x](javascript:alert(1))\n", 2, "link"),
            ("# T\n[x](../tests/run.py)\n", 2, "link"),
            ("# T\n[x](#anchor)\n", 2, "link"),
            ("  \n\n", 1, "empty"),
        ];
        for (text, line, what) in cases {
            let e = check_statement(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn data_images_and_mail_links_pass() {
        check_statement("![dot](data:image/png;base64,iVBORw0KGgo=)\n<ada@example.org>\n").unwrap();
    }
}
