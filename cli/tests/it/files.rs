//! Export and import: passwords as Firefox's CSV and as JSON, bookmarks as
//! a Netscape bookmark file and as Firefox's JSON backup, each round
//! tripped through a fresh profile; and files with a bad line, refused
//! whole. No server is involved: these are the local stores.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{Profile, write};

fn add_login(profile: &Profile, origin: &str, username: &str, password: &str) {
    profile
        .run(&[
            "passwords",
            "add",
            "--origin",
            origin,
            "--username",
            username,
            "--password",
            password,
        ])
        .ok();
}

fn logins(profile: &Profile) -> Vec<(String, String, String)> {
    let list = profile
        .run(&["--json", "passwords", "export", "--format", "json"])
        .ok()
        .json();
    let mut out: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let e = &l["entry"];
            (
                e["origin"].as_str().unwrap().to_owned(),
                e["username"].as_str().unwrap().to_owned(),
                e["password"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn passwords_round_trip_through_firefox_csv_and_json_and_imports_dedupe() {
    let from = Profile::new();
    add_login(&from, "https://example.com", "alice", "p,a\"ss\nword");
    add_login(&from, "https://bank.example", "", "only-password");
    from.run(&[
        "passwords",
        "add",
        "--origin",
        "https://intranet.example",
        "--realm",
        "Staff",
        "--username",
        "bob",
        "--password",
        "pw",
    ])
    .ok();
    let csv = from.file("logins.csv");
    let done = from
        .run(&["passwords", "export", "--output", csv.to_str().unwrap()])
        .ok();
    done.stdout_has("Exported 3 logins");
    #[cfg(unix)]
    assert_eq!(common::mode(&csv), 0o600);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with(
            "\"url\",\"username\",\"password\",\"httpRealm\",\"formActionOrigin\",\"guid\",\"timeCreated\",\"timeLastUsed\",\"timePasswordChanged\"\r\n"
        ),
        "{text}"
    );

    let to = Profile::new();
    let run = to
        .run(&["--json", "passwords", "import", csv.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(run["imported"], 3, "{run}");
    assert_eq!(logins(&to), logins(&from));
    let realm = to.run(&["--json", "passwords", "get", "intranet"]).ok().json();
    assert_eq!(realm[0]["entry"]["http_realm"], "Staff", "{realm}");

    // Importing again adds nothing.
    let again = to
        .run(&["--json", "passwords", "import", csv.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(3)),
        "{again}"
    );

    // JSON, and Chrome's column order.
    let json = from.file("logins.json");
    from.run(&[
        "passwords",
        "export",
        "--format",
        "json",
        "-o",
        json.to_str().unwrap(),
    ])
    .ok();
    let third = Profile::new();
    third.run(&["passwords", "import", json.to_str().unwrap()]).ok();
    assert_eq!(logins(&third), logins(&from));
    let chrome = from.file("chrome.csv");
    write(
        &chrome,
        "name,url,username,password,note\nex,https://chrome.example/login,carol,c-pw,\n",
    );
    third.run(&["passwords", "import", chrome.to_str().unwrap()]).ok();
    let got = third
        .run(&["--json", "passwords", "get", "chrome.example"])
        .ok()
        .json();
    assert_eq!(got[0]["entry"]["origin"], "https://chrome.example", "{got}");
    assert_eq!(got[0]["entry"]["password"], "c-pw", "{got}");

    // Listings leave the passwords out.
    let list = to.run(&["passwords", "list"]).ok();
    assert!(
        list.stdout.contains("https://example.com") && !list.stdout.contains("only-password"),
        "{}",
        list.stdout
    );
}

#[test]
fn a_bad_password_file_names_its_line_and_imports_nothing() {
    let profile = Profile::new();
    let csv = profile.file("bad.csv");
    write(
        &csv,
        "url,username,password,httpRealm,formActionOrigin,guid,timeCreated,timeLastUsed,timePasswordChanged\n\
         https://one.example,a,1,,https://one.example,,,,\n\
         https://two.example,b,2,,https://two.example,,,,\n\
         not a url,c,3,,,,,,\n",
    );
    let run = profile
        .run(&["passwords", "import", csv.to_str().unwrap()])
        .failed_with(5);
    run.stderr_has("bad.csv, line 4");
    run.stderr_has("nothing was imported");
    assert!(logins(&profile).is_empty());

    write(&csv, "url,username\nhttps://x.example,a\n");
    let run = profile
        .run(&["passwords", "import", csv.to_str().unwrap()])
        .failed_with(5);
    assert!(
        run.stderr.contains("line 1") && run.stderr.contains("password"),
        "{}",
        run.stderr
    );

    write(
        &csv,
        "url,username,password\nhttps://x.example,a,b\nhttps://y.example,b\n",
    );
    let run = profile
        .run(&["passwords", "import", csv.to_str().unwrap()])
        .failed_with(5);
    run.stderr_has("line 3");
    assert!(logins(&profile).is_empty());

    let json = profile.file("bad.json");
    write(&json, "[\n  {\"guid\": \"x\",\n  oops\n]");
    let run = profile
        .run(&["passwords", "import", json.to_str().unwrap()])
        .failed_with(5);
    run.stderr_has("line 3");
}

/// A tree with everything a bookmark file can hold.
fn fill_bookmarks(profile: &Profile) {
    let add = |args: &[&str]| {
        let mut all = vec!["--json", "bookmarks", "add"];
        all.extend_from_slice(args);
        profile.run(&all).ok().json()["guid"].as_str().unwrap().to_owned()
    };
    add(&[
        "https://www.rust-lang.org/",
        "--title",
        "Rust & <Friends>",
        "--folder",
        "menu",
        "--tags",
        "lang,rust",
        "--keyword",
        "rs",
    ]);
    add(&[
        "https://toolbar.example/",
        "--title",
        "On the toolbar",
        "--folder",
        "toolbar",
    ]);
    add(&[
        "https://phone.example/",
        "--title",
        "From the phone",
        "--folder",
        "mobile",
    ]);
    add(&[
        "place:sort=8&maxResults=10",
        "--title",
        "Most Visited",
        "--folder",
        "toolbar",
    ]);
    add(&[
        "https://other.example/ünïcode?q=1&r=2",
        "--title",
        "Ünïcode \"quoted\"",
        "--folder",
        "unfiled",
    ]);
}

/// `tree --json` without ids and dates, for comparing two profiles.
fn shape(profile: &Profile) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        if let Some(map) = v.as_object_mut() {
            for key in ["guid", "dateAdded", "lastModified"] {
                map.remove(key);
            }
            for child in map.values_mut() {
                strip(child);
            }
        } else if let Some(list) = v.as_array_mut() {
            list.iter_mut().for_each(strip);
        }
    }
    let mut tree = profile.run(&["--json", "bookmarks", "tree"]).ok().json();
    strip(&mut tree);
    tree
}

#[test]
fn bookmarks_round_trip_through_html_and_firefox_json() {
    let from = Profile::new();
    fill_bookmarks(&from);
    // A folder with a separator and a subfolder, made by importing.
    let nested = from.file("nested.html");
    write(
        &nested,
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><H3 ADD_DATE=\"1600000000\">Dev</H3>\n<DL><p>\n\
         <DT><A HREF=\"https://docs.rs/\" ADD_DATE=\"1600000001\">Docs</A>\n<HR>\n<DT><H3>Empty</H3>\n<DL><p>\n</DL><p>\n\
         </DL><p>\n</DL><p>\n",
    );
    from.run(&["bookmarks", "import", nested.to_str().unwrap()]).ok();
    let listed = from.run(&["--json", "bookmarks", "list"]).ok().json();
    let docs = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["url"] == "https://docs.rs/")
        .unwrap();
    assert_eq!(docs["folder"], "Bookmarks Menu/Dev");
    assert_eq!(docs["dateAdded"], 1_600_000_001_000_i64);

    for format in ["html", "json"] {
        let file = from.file(&format!("bookmarks.{format}"));
        let done = from
            .run(&[
                "bookmarks",
                "export",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ])
            .ok();
        done.stdout_has("Exported 6 bookmarks");
        let to = Profile::new();
        let run = to
            .run(&["--json", "bookmarks", "import", file.to_str().unwrap()])
            .ok()
            .json();
        assert_eq!(run["imported"], 6, "{format}: {run}");
        assert_eq!(shape(&to), shape(&from), "{format}");
        // Exporting the copy gives the same file, but for when things changed.
        let copy = to.file(&format!("copy.{format}"));
        to.run(&[
            "bookmarks",
            "export",
            "--format",
            format,
            "--output",
            copy.to_str().unwrap(),
        ])
        .ok();
        if format == "html" {
            let strip = |t: String| -> String {
                t.split(" LAST_MODIFIED=\"")
                    .enumerate()
                    .map(|(i, part)| {
                        if i == 0 {
                            part
                        } else {
                            part.split_once('"').map_or(part, |(_, r)| r)
                        }
                    })
                    .collect()
            };
            assert_eq!(
                strip(std::fs::read_to_string(&copy).unwrap()),
                strip(std::fs::read_to_string(&file).unwrap())
            );
        }
    }
    let html = std::fs::read_to_string(from.file("bookmarks.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>"), "{html}");
    assert!(
        html.contains("<H3 PERSONAL_TOOLBAR_FOLDER=\"true\">Bookmarks Toolbar</H3>"),
        "{html}"
    );
    assert!(
        html.contains("SHORTCUTURL=\"rs\" TAGS=\"lang,rust\">Rust &amp; &lt;Friends&gt;</A>"),
        "{html}"
    );
    assert!(html.contains("<HR>"), "{html}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from.file("bookmarks.json")).unwrap()).unwrap();
    assert_eq!(json["root"], "placesRoot");
    assert_eq!(json["children"][1]["root"], "toolbarFolder");
    assert_eq!(json["children"][1]["children"][0]["type"], "text/x-moz-place");
}

#[test]
fn chrome_bookmark_files_import_into_the_right_roots() {
    let profile = Profile::new();
    let file = profile.file("chrome.html");
    // As Chrome writes it: the bar first, marked as the toolbar; lower-case
    // tags, unclosed <DT>, dates in seconds.
    write(
        &file,
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<!-- This is an automatically generated file.\n     DO NOT EDIT! -->\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n\
         <DL><p>\n    <DT><H3 ADD_DATE=\"1700000000\" LAST_MODIFIED=\"0\" PERSONAL_TOOLBAR_FOLDER=\"true\">Bookmarks bar</H3>\n\
         <DL><p>\n        <DT><A HREF=\"https://news.example/\" ADD_DATE=\"1700000001\" ICON=\"data:image/png;base64,AAAA\">News</A>\n\
         <dt><a href='https://lower.example/'>lower</a>\n    </DL><p>\n\
         <DT><H3>Other bookmarks</H3>\n<DL><p>\n<DT><A HREF=\"https://else.example/\">Else</A>\n</DL><p>\n</DL><p>\n",
    );
    let run = profile
        .run(&["--json", "bookmarks", "import", file.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(run["imported"], 3, "{run}");
    let toolbar = profile
        .run(&["--json", "bookmarks", "list", "--folder", "toolbar"])
        .ok()
        .json();
    let titles: Vec<&str> = toolbar
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["News", "lower"]);
    let found = profile
        .run(&["--json", "bookmarks", "search", "else"])
        .ok()
        .json();
    assert_eq!(found[0]["title"], "Else", "{found}");
}

#[test]
fn a_bad_bookmark_file_names_its_line_and_imports_nothing() {
    let profile = Profile::new();
    let file = profile.file("bad.html");
    let empty = shape(&profile);
    for (text, line) in [
        // A link whose URL is not one, deep in the file.
        (
            "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><A HREF=\"https://fine.example/\">Fine</A>\n\
             <DT><H3 PERSONAL_TOOLBAR_FOLDER=\"true\">Toolbar</H3>\n<DL><p>\n<DT><A HREF=\"https://also.example/\">Also</A>\n\
             <DT><A HREF=\"no scheme here\">Broken</A>\n</DL><p>\n</DL><p>\n",
            "line 7",
        ),
        // A link without HREF.
        (
            "<DL><p>\n<DT><A HREF=\"https://fine.example/\">Fine</A>\n<DT><A>Nowhere</A>\n</DL>\n",
            "line 3",
        ),
        // A closing tag with nothing to close.
        ("<DL><p>\n</DL>\n", "unused"),
        ("</DL>\n<DL><p>\n", "line 1"),
        // Not a bookmark file at all.
        ("just some text\n", "line 1"),
        // The file ends inside a folder.
        (
            "<DL><p>\n<DT><H3>Open</H3>\n<DL><p>\n<DT><A HREF=\"https://x.example/\">X</A>\n",
            "line 4",
        ),
    ] {
        write(&file, text);
        let run = profile.run(&["bookmarks", "import", file.to_str().unwrap()]);
        if line == "unused" {
            assert_eq!(run.code, 0, "an empty file is fine: {run:?}");
            continue;
        }
        assert_eq!(run.code, 5, "{text}: {run:?}");
        assert!(
            run.stderr.contains(&format!("bad.html, {line}")),
            "{text}: {}",
            run.stderr
        );
        run.stderr_has("nothing was imported");
        assert_eq!(shape(&profile), empty, "{text}");
    }

    let json = profile.file("bad.json");
    write(
        &json,
        "{\"root\": \"placesRoot\", \"type\": \"text/x-moz-place-container\", \"children\": [{\"root\": \"toolbarFolder\", \"type\": \"text/x-moz-place-container\", \"children\": [{\"title\": \"ok\", \"type\": \"text/x-moz-place\", \"uri\": \"https://ok.example/\"}, {\"title\": \"Lost\", \"type\": \"text/x-moz-place\"}]}]}",
    );
    let run = profile
        .run(&["bookmarks", "import", json.to_str().unwrap()])
        .failed_with(5);
    assert!(
        run.stderr.contains("Lost") && run.stderr.contains("without a uri"),
        "{}",
        run.stderr
    );
    assert_eq!(shape(&profile), empty);
}
