//! `bookmarks`: list, tree, search, add, delete, and export and import as
//! a Netscape bookmark file (what Firefox's and Chrome's "Export
//! Bookmarks to HTML" write) or as Firefox's JSON backup.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::json;
use sync_bookmarks::{
    BookmarkItem, BookmarkKind, BookmarkNode, BookmarkStore, BookmarksError, NewItem, NewTree,
};

use crate::bookmark_files::{self, ROOTS};
use crate::netscape::{self, Entry, Root};
use crate::output::{Out, print_table};
use crate::profile::{Profile, write_private};
use crate::{bad_file, exit, fail};

/// Export formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A Netscape bookmark file, as Firefox and Chrome export it.
    Html,
    /// Firefox's JSON backup (Firefox can restore from it).
    Json,
}

/// `bookmarks …`.
#[derive(Subcommand)]
pub enum BookmarksCmd {
    /// Every bookmark, with the folder it is in.
    List {
        /// Only this folder (menu, toolbar, unfiled, mobile or an id) and
        /// its subfolders.
        #[arg(long)]
        folder: Option<String>,
    },
    /// Folders and bookmarks as a tree, with the ids of folders.
    Tree {
        /// Only this folder (menu, toolbar, unfiled, mobile or an id).
        folder: Option<String>,
    },
    /// Bookmarks whose title or URL contains TEXT.
    Search {
        /// What to look for.
        text: String,
        /// Find bookmarks tagged TEXT instead.
        #[arg(long)]
        tag: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Add a bookmark.
    Add {
        /// Its URL.
        url: String,
        /// Its title (default: the URL).
        #[arg(long)]
        title: Option<String>,
        /// Where: menu, toolbar, unfiled (Other Bookmarks), mobile, or a
        /// folder's id.
        #[arg(long, default_value = "unfiled")]
        folder: String,
        /// Tags, comma-separated.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// A keyword to open it from the address bar.
        #[arg(long)]
        keyword: Option<String>,
    },
    /// Delete a bookmark, separator or folder (with everything in it) by id.
    Delete {
        /// Its id (see `list` and `tree`).
        guid: String,
    },
    /// Write every bookmark.
    Export {
        /// html (Netscape bookmark file) or json (Firefox's backup).
        #[arg(long, value_enum, default_value = "html")]
        format: Format,
        /// Where to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add the bookmarks of an HTML bookmark file (Firefox's, Chrome's,
    /// Safari's) or of a Firefox JSON backup, each into the matching root
    /// (the menu when the file does not say). A file with an invalid entry
    /// is refused whole, naming the line.
    Import {
        /// The file (.html, .htm or .json).
        file: PathBuf,
    },
}

/// An item as listings show it (and as `--json` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemView {
    guid: String,
    kind: &'static str,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyword: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    folder: String,
    date_added: i64,
    last_modified: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<Vec<ItemView>>,
}

fn kind_name(kind: BookmarkKind) -> &'static str {
    match kind {
        BookmarkKind::Bookmark => "bookmark",
        BookmarkKind::Folder => "folder",
        BookmarkKind::Separator => "separator",
        BookmarkKind::Query => "query",
    }
}

impl ItemView {
    fn new(item: &BookmarkItem, folder: &str) -> Self {
        ItemView {
            guid: item.guid.to_string(),
            kind: kind_name(item.kind),
            title: display_title(item),
            url: item.url.clone(),
            keyword: item.keyword.clone(),
            tags: item.tags.clone(),
            folder: folder.to_owned(),
            date_added: item.date_added,
            last_modified: item.last_modified,
            children: None,
        }
    }

    fn tree(node: &BookmarkNode) -> Self {
        let mut view = ItemView::new(&node.item, "");
        if node.item.kind == BookmarkKind::Folder {
            view.children = Some(node.children.iter().map(ItemView::tree).collect());
        }
        view
    }
}

/// A root's title as people know it; other items' own titles.
fn display_title(item: &BookmarkItem) -> String {
    ROOTS
        .iter()
        .find(|(_, guid, _)| item.guid == *guid)
        .map_or_else(|| item.title.clone(), |(_, _, title)| (*title).to_owned())
}

/// The GUID `--folder` names: a root's name or an id.
fn folder_guid(name: &str) -> String {
    let name = name.trim();
    let alias = if name.eq_ignore_ascii_case("other") {
        "unfiled"
    } else {
        name
    };
    ROOTS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(alias))
        .map_or_else(|| name.to_owned(), |(_, guid, _)| (*guid).to_owned())
}

fn tree_of(store: &BookmarkStore, guid: &str) -> Result<BookmarkNode> {
    store.get_tree(guid)?.ok_or_else(|| {
        fail(
            exit::ERROR,
            format!("no folder {guid}"),
            Some("see `firefox-sync bookmarks tree`"),
        )
    })
}

/// The trees to show: `folder`, or every root.
fn trees(store: &BookmarkStore, folder: Option<&str>) -> Result<Vec<BookmarkNode>> {
    match folder {
        Some(f) => Ok(vec![tree_of(store, &folder_guid(f))?]),
        None => ROOTS.iter().map(|(_, guid, _)| tree_of(store, guid)).collect(),
    }
}

/// Runs a `bookmarks` command.
pub fn run(profile: &Profile, out: &Out, cmd: BookmarksCmd) -> Result<()> {
    let store = profile.bookmarks()?;
    match cmd {
        BookmarksCmd::List { folder } => {
            let mut items = Vec::new();
            for tree in trees(&store, folder.as_deref())? {
                collect_bookmarks(&tree, &display_title(&tree.item), &mut items);
            }
            out.list(&items, &["title", "url", "folder", "id"], |v| {
                vec![
                    v.title.clone(),
                    v.url.clone().unwrap_or_default(),
                    v.folder.clone(),
                    v.guid.clone(),
                ]
            })
        }
        BookmarksCmd::Tree { folder } => {
            let trees = trees(&store, folder.as_deref())?;
            if out.is_json() {
                let views: Vec<ItemView> = trees.iter().map(ItemView::tree).collect();
                return out.print_json(&views);
            }
            let mut lines = Vec::new();
            for tree in &trees {
                tree_lines(tree, 0, &mut lines);
            }
            print_table(&["bookmarks", "id"], &lines)
        }
        BookmarksCmd::Search { text, tag, limit } => {
            let mut found = if tag {
                store.by_tag(&text)?
            } else {
                store.search(&text, limit)?
            };
            found.truncate(limit);
            let views: Vec<ItemView> = found.iter().map(|i| ItemView::new(i, "")).collect();
            out.list(&views, &["title", "url", "tags", "id"], |v| {
                vec![
                    v.title.clone(),
                    v.url.clone().unwrap_or_default(),
                    v.tags.join(","),
                    v.guid.clone(),
                ]
            })
        }
        BookmarksCmd::Add {
            url,
            title,
            folder,
            tags,
            keyword,
        } => {
            let title = title.unwrap_or_else(|| url.clone());
            let item = if url.trim_start().starts_with("place:") {
                NewItem::Query { url, title }
            } else {
                NewItem::Bookmark { url, title }
            };
            let mut node = NewTree::new(item);
            node.tags = tags.into_iter().filter(|t| !t.trim().is_empty()).collect();
            node.keyword = keyword;
            let guid = store
                .insert_tree(&folder_guid(&folder), None, vec![node])
                .map_err(store_failure)?
                .pop()
                .context("the store returned no id")?;
            out.done(&format!("Added {guid}."), &json!({"guid": guid}))
        }
        BookmarksCmd::Delete { guid } => {
            store.delete(&guid).map_err(store_failure)?;
            out.done(&format!("Deleted {guid}."), &json!({"deleted": guid}))
        }
        BookmarksCmd::Export { format, output } => export(out, &store, format, output.as_deref()),
        BookmarksCmd::Import { file } => import(out, &store, &file),
    }
}

/// A store error the person caused (a bad id, URL or folder) as a one-line failure.
fn store_failure(e: BookmarksError) -> anyhow::Error {
    match e {
        BookmarksError::NotFound(_) | BookmarksError::NotAFolder(_) => fail(
            exit::ERROR,
            e.to_string(),
            Some("see `firefox-sync bookmarks tree`"),
        ),
        BookmarksError::Root(..) | BookmarksError::InvalidUrl(_) | BookmarksError::InvalidChange(_) => {
            fail(exit::ERROR, e.to_string(), None)
        }
        other => anyhow::Error::new(other),
    }
}

fn collect_bookmarks(node: &BookmarkNode, path: &str, out: &mut Vec<ItemView>) {
    for child in &node.children {
        match child.item.kind {
            BookmarkKind::Bookmark | BookmarkKind::Query => out.push(ItemView::new(&child.item, path)),
            BookmarkKind::Folder => collect_bookmarks(child, &format!("{path}/{}", child.item.title), out),
            BookmarkKind::Separator => {}
        }
    }
}

fn tree_lines(node: &BookmarkNode, depth: usize, lines: &mut Vec<Vec<String>>) {
    let pad = "  ".repeat(depth);
    let item = &node.item;
    let line = match item.kind {
        BookmarkKind::Folder => vec![format!("{pad}{}/", display_title(item)), item.guid.to_string()],
        BookmarkKind::Separator => vec![format!("{pad}────"), item.guid.to_string()],
        BookmarkKind::Bookmark | BookmarkKind::Query => vec![
            format!("{pad}{}  <{}>", item.title, item.url.as_deref().unwrap_or("")),
            item.guid.to_string(),
        ],
    };
    lines.push(line);
    for child in &node.children {
        tree_lines(child, depth + 1, lines);
    }
}

fn export(out: &Out, store: &BookmarkStore, format: Format, output: Option<&Path>) -> Result<()> {
    let roots: Vec<BookmarkNode> = ROOTS
        .iter()
        .map(|(_, guid, _)| tree_of(store, guid))
        .collect::<Result<_>>()?;
    let count = roots.iter().map(count_bookmarks).sum::<usize>();
    let text = match format {
        Format::Html => to_html(&roots),
        Format::Json => serde_json::to_string(&bookmark_files::to_places_json(&roots))? + "\n",
    };
    match output {
        Some(path) => {
            write_private(path, text.as_bytes())?;
            out.done(
                &format!("Exported {count} bookmarks to {}.", path.display()),
                &json!({"exported": count, "file": path}),
            )
        }
        None => crate::output::raw(text.as_bytes()),
    }
}

fn count_bookmarks(node: &BookmarkNode) -> usize {
    let own = usize::from(matches!(
        node.item.kind,
        BookmarkKind::Bookmark | BookmarkKind::Query
    ));
    own + node.children.iter().map(count_bookmarks).sum::<usize>()
}

/// The four roots (menu, toolbar, unfiled, mobile, in [`ROOTS`] order) as
/// a Netscape bookmark file. The mobile root is written only when it holds
/// something, as Firefox leaves it out.
pub fn to_html(roots: &[BookmarkNode]) -> String {
    let mut menu = Vec::new();
    let mut others = Vec::new();
    for (root, (name, _, title)) in roots.iter().zip(ROOTS) {
        let children: Vec<Entry> = root.children.iter().map(entry_of).collect();
        match name {
            "menu" => menu = children,
            "toolbar" => others.push((Root::Toolbar, title, children)),
            "unfiled" => others.push((Root::Unfiled, title, children)),
            _ if children.is_empty() => {}
            _ => others.push((Root::Mobile, title, children)),
        }
    }
    netscape::write(&menu, &others)
}

fn entry_of(node: &BookmarkNode) -> Entry {
    let item = &node.item;
    let seconds = |ms: i64| (ms > 0).then_some(ms / 1000);
    match item.kind {
        BookmarkKind::Folder => Entry::Folder {
            title: item.title.clone(),
            root: None,
            add_date: seconds(item.date_added),
            last_modified: seconds(item.last_modified),
            children: node.children.iter().map(entry_of).collect(),
            line: 0,
        },
        BookmarkKind::Bookmark | BookmarkKind::Query => Entry::Bookmark {
            url: item.url.clone().unwrap_or_default(),
            title: item.title.clone(),
            keyword: item.keyword.clone(),
            tags: item.tags.clone(),
            add_date: seconds(item.date_added),
            last_modified: seconds(item.last_modified),
            line: 0,
        },
        BookmarkKind::Separator => Entry::Separator,
    }
}

fn import(out: &Out, store: &BookmarkStore, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let batches = if is_json {
        bookmark_files::from_places_json(file, &text)?
    } else {
        bookmark_files::from_html(file, &text)?
    };
    let count: usize = batches.iter().flat_map(|(_, items)| items).map(count_new).sum();
    let batches = batches
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(guid, items)| (guid.to_owned(), None, items))
        .collect();
    // Everything was checked while reading; the store checks again and
    // takes all of it in one transaction, or none.
    store
        .insert_trees(batches)
        .map_err(|e| bad_file(file, "an entry", e))?;
    out.done(
        &format!("Imported {count} bookmarks from {}.", file.display()),
        &json!({"imported": count, "file": file}),
    )
}

fn count_new(node: &NewTree) -> usize {
    let own = usize::from(matches!(
        node.item,
        NewItem::Bookmark { .. } | NewItem::Query { .. }
    ));
    own + node.children.iter().map(count_new).sum::<usize>()
}
