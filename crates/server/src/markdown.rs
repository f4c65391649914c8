//! A statement's Markdown as HTML a page can insert as it is. Two layers: raw HTML in the
//! Markdown is turned into text before rendering (the package check already refuses it),
//! then ammonia keeps only an allow-list of tags, attributes and URL schemes, so a
//! package that slipped past the check still cannot put script or styles in the page.

use std::collections::HashSet;

use gauntlet_exercise::statement::markdown_options;
use pulldown_cmark::{Event, Parser};

/// Sanitised HTML of a statement.
pub fn to_safe_html(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, markdown_options()).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    ammonia::Builder::default()
        // `language-python` and the like, for the page's code styling.
        .add_tag_attributes("code", &["class"])
        .url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        // data: only as an image, and only an image format.
        .attribute_filter(|element, attribute, value| {
            let data = value.trim_start().to_ascii_lowercase().starts_with("data:");
            match (element, attribute) {
                ("img", "src") if data && !value.trim_start()[5..].starts_with("image/") => None,
                (_, "href") if data => None,
                _ => Some(value.into()),
            }
        })
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn markdown_becomes_html_with_code_classes() {
        let html = to_safe_html("# Title\n\nSay `hi`.\n\n```python\nprint(1 < 2)\n```\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<code>hi</code>"), "{html}");
        assert!(
            html.contains("<code class=\"language-python\">print(1 &lt; 2)"),
            "{html}"
        );
    }

    #[test]
    fn nothing_active_survives() {
        let md = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n\
                  [click](javascript:alert(1)) [d](data:text/html,<b>x</b>) \
                  ![i](data:text/html,x) <a href=\"https://e.org\" onclick=\"x()\">a</a>\n\n\
                  <style>body{display:none}</style>\n";
        let html = to_safe_html(md);
        // Every tag left (text `<` is escaped, so each `<` opens a real tag).
        let tags: Vec<&str> = html
            .split('<')
            .skip(1)
            .map(|t| &t[..t.find('>').unwrap()])
            .collect();
        for tag in &tags {
            let lower = tag.to_ascii_lowercase();
            for bad in [
                "script",
                "style",
                "onerror",
                "onclick",
                "javascript:",
                "data:text",
            ] {
                assert!(!lower.contains(bad), "<{tag}> in {html}");
            }
            if lower.starts_with("img") && lower.contains("src=") {
                assert!(lower.contains("src=\"data:image/"), "<{tag}> in {html}");
            }
        }
        // Raw HTML shows as the text it is.
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn links_get_safe_rel_and_data_images_stay() {
        let html =
            to_safe_html("[docs](https://docs.python.org/) ![dot](data:image/png;base64,AA==)");
        assert!(html.contains("href=\"https://docs.python.org/\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
        assert!(
            html.contains("src=\"data:image/png;base64,AA==\""),
            "{html}"
        );
    }
}
