//! One file's module declarations and the module paths it names.

use super::lex::{Kind, Token, tokens};

/// A `mod` declaration.
pub(super) struct Declared {
    /// The module's full path in the crate.
    pub path: Vec<String>,
    /// `mod name { … }` rather than `mod name;`.
    pub inline: bool,
}

/// A path that may name a module of the crate.
#[derive(Debug, Clone)]
pub(super) struct Reference {
    /// The module the path is written in.
    pub module: Vec<String>,
    /// As written: `crate`, `super`, `self` or a name first.
    pub segments: Vec<String>,
    pub line: usize,
}

pub(super) struct Scanned {
    pub modules: Vec<Declared>,
    pub references: Vec<Reference>,
}

/// Scans a file that holds module `module`.
pub(super) fn scan(source: &str, module: &[String]) -> Scanned {
    let tokens = tokens(source);
    let mut scanner = Scanner {
        tokens: &tokens,
        at: 0,
        depth: 0,
        modules: vec![(module.to_vec(), 0)],
        out: Scanned {
            modules: Vec::new(),
            references: Vec::new(),
        },
    };
    scanner.run();
    scanner.out
}

struct Scanner<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
    /// Open modules, innermost last, each with the brace depth inside it.
    modules: Vec<(Vec<String>, usize)>,
    out: Scanned,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.at + ahead)
    }

    fn module(&self) -> Vec<String> {
        self.modules.last().map(|m| m.0.clone()).unwrap_or_default()
    }

    fn run(&mut self) {
        while let Some(token) = self.peek(0).cloned() {
            match &token.kind {
                Kind::Punct('#') => self.attribute(),
                Kind::Punct('{') => {
                    self.depth += 1;
                    self.at += 1;
                }
                Kind::Punct('}') => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.modules.len() > 1 && self.modules.last().is_some_and(|m| m.1 > self.depth) {
                        self.modules.pop();
                    }
                    self.at += 1;
                }
                Kind::Ident(word) if word == "mod" => self.module_declaration(),
                Kind::Ident(word) if word == "use" => self.use_declaration(),
                Kind::Ident(_) if self.starts_path() => {
                    let mut segments = Vec::new();
                    let line = token.line;
                    while let Some(name) = self.peek(0).and_then(Token::ident) {
                        segments.push(name.to_owned());
                        self.at += 1;
                        if self.peek(0).map(|t| &t.kind) == Some(&Kind::PathSep)
                            && self.peek(1).and_then(Token::ident).is_some()
                        {
                            self.at += 1;
                        } else {
                            break;
                        }
                    }
                    self.reference(segments, line);
                }
                Kind::Punct('$') if self.peek(1).is_some_and(|t| t.is_ident("crate")) => self.at += 1,
                _ => self.at += 1,
            }
        }
    }

    /// An identifier followed by `::` that does not continue a path.
    fn starts_path(&self) -> bool {
        let follows_separator = self.at > 0 && self.tokens[self.at - 1].kind == Kind::PathSep;
        !follows_separator && self.peek(1).map(|t| &t.kind) == Some(&Kind::PathSep)
    }

    fn reference(&mut self, segments: Vec<String>, line: usize) {
        if segments.len() > 1 || segments.first().is_some_and(|s| s == "crate") {
            self.out.references.push(Reference {
                module: self.module(),
                segments,
                line,
            });
        }
    }

    /// `#[…]` or `#![…]`: an item under `cfg(test)` is skipped whole.
    fn attribute(&mut self) {
        let inner = self.peek(1).is_some_and(|t| t.is_punct('!'));
        let open = self.at + if inner { 2 } else { 1 };
        if !self.tokens.get(open).is_some_and(|t| t.is_punct('[')) {
            self.at += 1;
            return;
        }
        let close = self.matching(open);
        let body = &self.tokens[open + 1..close];
        let is_test = body.first().is_some_and(|t| t.is_ident("cfg"))
            && body.iter().any(|t| t.is_ident("test"))
            && !body.iter().any(|t| t.is_ident("not"));
        self.at = close + 1;
        if is_test {
            if inner {
                self.at = self.tokens.len();
            } else {
                self.skip_item();
            }
        }
    }

    /// The index of the bracket closing the one at `open`.
    fn matching(&self, open: usize) -> usize {
        let mut depth = 0usize;
        for (i, token) in self.tokens.iter().enumerate().skip(open) {
            match token.kind {
                Kind::Punct('[' | '(' | '{') => depth += 1,
                Kind::Punct(']' | ')' | '}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
        }
        self.tokens.len().saturating_sub(1)
    }

    /// Past the next item: its attributes, then up to a `;` or the end of
    /// its first `{ … }` block.
    fn skip_item(&mut self) {
        while self.peek(0).is_some_and(|t| t.is_punct('#')) {
            let open = self.at + 1;
            if !self.tokens.get(open).is_some_and(|t| t.is_punct('[')) {
                break;
            }
            self.at = self.matching(open) + 1;
        }
        while let Some(token) = self.peek(0) {
            match token.kind {
                Kind::Punct(';') => {
                    self.at += 1;
                    return;
                }
                Kind::Punct('{') => {
                    self.at = self.matching(self.at) + 1;
                    return;
                }
                Kind::Punct('(' | '[') => self.at = self.matching(self.at) + 1,
                _ => self.at += 1,
            }
        }
    }

    /// `mod name;` or `mod name {`.
    fn module_declaration(&mut self) {
        let Some(name) = self.peek(1).and_then(Token::ident).map(str::to_owned) else {
            self.at += 1;
            return;
        };
        let mut path = self.module();
        path.push(name);
        let inline = self.peek(2).is_some_and(|t| t.is_punct('{'));
        if inline {
            self.depth += 1;
            self.modules.push((path.clone(), self.depth));
            self.at += 3;
        } else {
            self.at += 2;
        }
        self.out.modules.push(Declared { path, inline });
    }

    /// `use …;`: each path of its tree, unless the whole is a re-export.
    fn use_declaration(&mut self) {
        let reexport = self.is_public_use();
        self.at += 1;
        let mut paths = Vec::new();
        if self.peek(0).map(|t| &t.kind) != Some(&Kind::PathSep) {
            self.use_tree(Vec::new(), &mut paths);
        }
        while let Some(end) = self.peek(0).map(|t| t.is_punct(';')) {
            self.at += 1;
            if end {
                break;
            }
        }
        if !reexport {
            for (segments, line) in paths {
                self.reference(segments, line);
            }
        }
    }

    /// Whether the `use` at the cursor is preceded by `pub` or `pub(…)`.
    fn is_public_use(&self) -> bool {
        let Some(before) = self.at.checked_sub(1).map(|i| &self.tokens[i]) else {
            return false;
        };
        if before.is_ident("pub") {
            return true;
        }
        if !before.is_punct(')') {
            return false;
        }
        let open = self.tokens[..self.at - 1].iter().rposition(|t| t.is_punct('('));
        open.and_then(|i| i.checked_sub(1))
            .is_some_and(|i| self.tokens[i].is_ident("pub"))
    }

    /// One use tree: `a::b`, `a::{b, c::d}`, `a::*`, `a as b`, `self`.
    fn use_tree(&mut self, prefix: Vec<String>, out: &mut Vec<(Vec<String>, usize)>) {
        let mut path = prefix;
        let line = self.peek(0).map_or(0, |t| t.line);
        loop {
            let Some(token) = self.peek(0) else { return };
            match &token.kind {
                Kind::Ident(name) if name == "self" && !path.is_empty() => {
                    self.at += 1;
                }
                Kind::Ident(name) => {
                    path.push(name.clone());
                    self.at += 1;
                }
                Kind::Punct('*') => {
                    self.at += 1;
                    break;
                }
                Kind::Punct('{') => {
                    self.at += 1;
                    while let Some(token) = self.peek(0) {
                        if token.is_punct('}') {
                            self.at += 1;
                            return;
                        }
                        if token.is_punct(',') {
                            self.at += 1;
                            continue;
                        }
                        let before = self.at;
                        self.use_tree(path.clone(), out);
                        if self.at == before {
                            self.at += 1;
                        }
                    }
                    return;
                }
                _ => break,
            }
            if self.peek(0).map(|t| &t.kind) == Some(&Kind::PathSep) {
                self.at += 1;
            } else {
                break;
            }
        }
        if self.peek(0).is_some_and(|t| t.is_ident("as")) {
            self.at += 2;
        }
        out.push((path, line));
    }
}
