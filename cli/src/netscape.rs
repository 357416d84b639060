//! The Netscape bookmark file format (`<!DOCTYPE NETSCAPE-Bookmark-file-1>`),
//! which Firefox's "Export/Import Bookmarks to/from HTML" and Chrome's
//! bookmark manager write and read.
//!
//! Written as Firefox writes it: the menu's items in the top `<DL>`, the
//! toolbar and "Other Bookmarks" as `<H3>` folders marked
//! `PERSONAL_TOOLBAR_FOLDER` and `UNFILED_BOOKMARKS_FOLDER`, bookmarks as
//! `<A HREF ADD_DATE LAST_MODIFIED SHORTCUTURL TAGS>`, separators as `<HR>`,
//! dates in seconds. The mobile root, which Firefox does not export, is an
//! `<H3 MOBILE_BOOKMARKS_FOLDER="true">` (other programs read it as a folder).
//!
//! Read tolerantly (tags and attributes in any case, unclosed `<DT>` and
//! `<p>`), but strictly where it matters: a link without a usable URL or a
//! `</DL>` with nothing to close is an error naming its line. No HTML
//! library is used because none reports the line of an element.

use std::fmt::Write as _;

/// Which of Firefox's roots a top-level folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// Bookmarks Toolbar.
    Toolbar,
    /// Other Bookmarks.
    Unfiled,
    /// Mobile Bookmarks.
    Mobile,
}

/// An item of a bookmark file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Folder {
        /// Its title.
        title: String,
        /// Which root it stands for, if any.
        root: Option<Root>,
        /// When it was added, in seconds (`ADD_DATE`).
        add_date: Option<i64>,
        /// When it last changed, in seconds (`LAST_MODIFIED`).
        last_modified: Option<i64>,
        /// Its items.
        children: Vec<Entry>,
        /// The line it starts on.
        line: usize,
    },
    /// A bookmark (or a `place:` query).
    Bookmark {
        /// Its URL.
        url: String,
        /// Its title.
        title: String,
        /// Its keyword (`SHORTCUTURL`).
        keyword: Option<String>,
        /// Its tags (`TAGS`, comma-separated).
        tags: Vec<String>,
        /// When it was added, in seconds (`ADD_DATE`).
        add_date: Option<i64>,
        /// When it last changed, in seconds (`LAST_MODIFIED`).
        last_modified: Option<i64>,
        /// The line it is on.
        line: usize,
    },
    /// A separator (`<HR>`).
    Separator,
}

/// Why a file is not a bookmark file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// HTML-escapes text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes HTML escapes: the named ones Firefox and Chrome write, and
/// numeric ones. Anything else is left as it is.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes `menu` (the menu's items) and the other roots as a bookmark file.
pub fn write(menu: &[Entry], roots: &[(Root, &str, Vec<Entry>)]) -> String {
    let mut out = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n\
         <!-- This is an automatically generated file.\n     It will be read and overwritten.\n     DO NOT EDIT! -->\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; script-src 'none'; img-src data: *; object-src 'none'\"></meta>\n\
         <TITLE>Bookmarks</TITLE>\n<H1>Bookmarks Menu</H1>\n\n<DL><p>\n",
    );
    for entry in menu {
        write_entry(&mut out, entry, 1);
    }
    for (root, title, children) in roots {
        let marker = match root {
            Root::Toolbar => "PERSONAL_TOOLBAR_FOLDER",
            Root::Unfiled => "UNFILED_BOOKMARKS_FOLDER",
            Root::Mobile => "MOBILE_BOOKMARKS_FOLDER",
        };
        let _ = writeln!(out, "    <DT><H3 {marker}=\"true\">{}</H3>", escape(title));
        out.push_str("    <DL><p>\n");
        for entry in children {
            write_entry(&mut out, entry, 2);
        }
        out.push_str("    </DL><p>\n");
    }
    out.push_str("</DL>\n");
    out
}

fn write_entry(out: &mut String, entry: &Entry, depth: usize) {
    let pad = "    ".repeat(depth);
    match entry {
        Entry::Folder {
            title,
            children,
            add_date,
            last_modified,
            ..
        } => {
            let _ = writeln!(
                out,
                "{pad}<DT><H3{}>{}</H3>",
                dates(*add_date, *last_modified),
                escape(title)
            );
            let _ = writeln!(out, "{pad}<DL><p>");
            for child in children {
                write_entry(out, child, depth + 1);
            }
            let _ = writeln!(out, "{pad}</DL><p>");
        }
        Entry::Bookmark {
            url,
            title,
            keyword,
            tags,
            add_date,
            last_modified,
            ..
        } => {
            let mut attrs = format!("HREF=\"{}\"{}", escape(url), dates(*add_date, *last_modified));
            if let Some(k) = keyword {
                let _ = write!(attrs, " SHORTCUTURL=\"{}\"", escape(k));
            }
            if !tags.is_empty() {
                let _ = write!(attrs, " TAGS=\"{}\"", escape(&tags.join(",")));
            }
            let _ = writeln!(out, "{pad}<DT><A {attrs}>{}</A>", escape(title));
        }
        Entry::Separator => {
            let _ = writeln!(out, "{pad}<HR>");
        }
    }
}

/// ` ADD_DATE="…" LAST_MODIFIED="…"`, for the dates known.
fn dates(add_date: Option<i64>, last_modified: Option<i64>) -> String {
    let mut out = String::new();
    if let Some(d) = add_date {
        let _ = write!(out, " ADD_DATE=\"{d}\"");
    }
    if let Some(d) = last_modified {
        let _ = write!(out, " LAST_MODIFIED=\"{d}\"");
    }
    out
}

/// A folder's heading (`<H3>`), waiting for its `<DL>` and then its `</DL>`.
#[derive(Default)]
struct Heading {
    title: String,
    root: Option<Root>,
    add_date: Option<i64>,
    last_modified: Option<i64>,
    line: usize,
}

/// A tag and its attributes, as read.
struct Tag {
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
    line: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A date attribute, in seconds; Chrome and old files sometimes write
    /// microseconds, which are scaled down.
    fn date(&self, name: &str) -> Option<i64> {
        let n: i64 = self.attr(name)?.trim().parse().ok()?;
        match n {
            n if n <= 0 => None,
            n if n > 100_000_000_000_000 => Some(n / 1_000_000),
            n if n > 100_000_000_000 => Some(n / 1000),
            n => Some(n),
        }
    }
}

/// The tags and the text between them, with the line each tag starts on.
fn tokenize(text: &str) -> Vec<(Tag, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        line += rest[..start].matches('\n').count();
        rest = &rest[start..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").map_or(rest.len(), |e| e + 3);
            line += rest[..end].matches('\n').count();
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        let inside = &rest[1..end.max(1)];
        let tag_line = line;
        line += inside.matches('\n').count();
        rest = rest.get(end + 1..).unwrap_or("");
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = unescape(rest[..text_end].trim());
        let closing = inside.starts_with('/');
        let body = inside.trim_start_matches('/');
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = body[..name_end].trim_end_matches('/').to_ascii_uppercase();
        out.push((
            Tag {
                name,
                closing,
                attrs: attributes(&body[name_end..]),
                line: tag_line,
            },
            text,
        ));
    }
    out
}

/// `KEY="value" KEY='value' KEY=value KEY`, values unescaped.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        // A stray `=` or `/` (as in `<HR/>`) is skipped.
        if let Some(after) = rest.strip_prefix(['=', '/']) {
            rest = after.trim_start();
            continue;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c == '/' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_owned();
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map_or(after.len(), |i| i + 1);
                    (&after[1..close], after.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining.trim_start();
            unescape(value)
        } else {
            String::new()
        };
        out.push((key, value));
    }
    out
}

/// Reads a bookmark file: the items of its top `<DL>` (the menu's, and
/// the root folders among them).
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let tokens = tokenize(text);
    // Folders being filled: the top level first.
    let mut stack: Vec<Vec<Entry>> = Vec::new();
    // A folder's heading waits for its <DL>.
    let mut pending: Option<Heading> = None;
    // The headings of the folders being filled, innermost last (one fewer
    // than `stack`: the top level has none).
    let mut headings: Vec<Heading> = Vec::new();
    let mut seen_dl = false;
    let mut finished: Option<Vec<Entry>> = None;
    for (tag, text) in tokens {
        if finished.is_some() {
            break;
        }
        match (tag.name.as_str(), tag.closing) {
            ("DL", false) => {
                seen_dl = true;
                if !stack.is_empty() {
                    // A <DL> without a heading is read as an untitled folder.
                    headings.push(pending.take().unwrap_or_else(|| Heading {
                        line: tag.line,
                        ..Heading::default()
                    }));
                }
                pending = None;
                stack.push(Vec::new());
            }
            ("DL", true) => {
                let Some(children) = stack.pop() else {
                    return Err(ParseError {
                        line: tag.line,
                        message: "</DL> closes nothing".into(),
                    });
                };
                if stack.is_empty() {
                    finished = Some(children);
                } else {
                    let heading = headings.pop().unwrap_or_default();
                    if let Some(parent) = stack.last_mut() {
                        parent.push(Entry::Folder {
                            title: heading.title,
                            root: heading.root,
                            add_date: heading.add_date,
                            last_modified: heading.last_modified,
                            children,
                            line: heading.line,
                        });
                    }
                }
            }
            ("H3", false) => {
                let root = if tag.attr("PERSONAL_TOOLBAR_FOLDER").is_some() {
                    Some(Root::Toolbar)
                } else if tag.attr("UNFILED_BOOKMARKS_FOLDER").is_some() {
                    Some(Root::Unfiled)
                } else if tag.attr("MOBILE_BOOKMARKS_FOLDER").is_some() {
                    Some(Root::Mobile)
                } else {
                    None
                };
                pending = Some(Heading {
                    title: text,
                    root,
                    add_date: tag.date("ADD_DATE"),
                    last_modified: tag.date("LAST_MODIFIED"),
                    line: tag.line,
                });
            }
            ("A", false) => {
                let Some(current) = stack.last_mut() else {
                    return Err(ParseError {
                        line: tag.line,
                        message: "a link outside any <DL>".into(),
                    });
                };
                let url = tag.attr("HREF").unwrap_or("").trim().to_owned();
                if url.is_empty() {
                    return Err(ParseError {
                        line: tag.line,
                        message: "a link without HREF".into(),
                    });
                }
                let tags = tag
                    .attr("TAGS")
                    .map(|t| {
                        t.split(',')
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                current.push(Entry::Bookmark {
                    url,
                    title: text,
                    keyword: tag
                        .attr("SHORTCUTURL")
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned),
                    tags,
                    add_date: tag.date("ADD_DATE"),
                    last_modified: tag.date("LAST_MODIFIED"),
                    line: tag.line,
                });
            }
            ("HR", false) => {
                if let Some(current) = stack.last_mut() {
                    current.push(Entry::Separator);
                }
            }
            _ => {}
        }
    }
    match finished {
        Some(entries) => Ok(entries),
        None if !seen_dl => Err(ParseError {
            line: 1,
            message: "not a bookmark file: it has no <DL> list".into(),
        }),
        None => Err(ParseError {
            line: text.lines().count().max(1),
            message: "the file ends before its top <DL> is closed".into(),
        }),
    }
}
