//! Just enough of a Rust lexer to find module paths: identifiers, `::`
//! and single punctuation, with comments, strings, characters and
//! lifetimes dropped (so a path in a doc comment or a string is not an
//! import).

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Kind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// An identifier or keyword (`r#` stripped).
    Ident(String),
    /// `::`
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A literal (string, number, character): its content never matters here.
    Literal,
}

impl Token {
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Ident(n) if n == name)
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(name) => Some(name),
            _ => None,
        }
    }
}

/// The tokens of `source`.
pub(super) fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i, &mut line);
        } else if let Some(end) = raw_string_end(&chars, i, &mut line) {
            i = end;
            out.push(literal(start_line));
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            i = skip_quoted(&chars, if c == 'b' { i + 1 } else { i }, '"', &mut line);
            out.push(literal(start_line));
        } else if c == '\'' || (c == 'b' && next == Some('\'')) {
            let quote = if c == 'b' { i + 1 } else { i };
            if c == '\'' && is_lifetime(&chars, i) {
                i += 1;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
            } else {
                i = skip_quoted(&chars, quote, '\'', &mut line);
                out.push(literal(start_line));
            }
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (is_ident_char(chars[i]) || chars[i] == '.' && is_digit_at(&chars, i + 1))
            {
                i += 1;
            }
            out.push(literal(start_line));
        } else if is_ident_start(c) {
            if c == 'r' && next == Some('#') && chars.get(i + 2).is_some_and(|c| is_ident_start(*c)) {
                i += 2;
            }
            let begin = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                kind: Kind::Ident(chars[begin..i].iter().collect()),
                line: start_line,
            });
        } else if c == ':' && next == Some(':') {
            out.push(Token {
                kind: Kind::PathSep,
                line: start_line,
            });
            i += 2;
        } else {
            out.push(Token {
                kind: Kind::Punct(c),
                line: start_line,
            });
            i += 1;
        }
    }
    out
}

fn literal(line: usize) -> Token {
    Token {
        kind: Kind::Literal,
        line,
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn is_digit_at(chars: &[char], i: usize) -> bool {
    chars.get(i).is_some_and(char::is_ascii_digit)
}

/// `'a` not followed by a closing quote is a lifetime or a label.
fn is_lifetime(chars: &[char], i: usize) -> bool {
    let Some(&first) = chars.get(i + 1) else {
        return false;
    };
    if !is_ident_start(first) {
        return false;
    }
    let mut j = i + 1;
    while j < chars.len() && is_ident_char(chars[j]) {
        j += 1;
    }
    chars.get(j) != Some(&'\'')
}

/// Past a `/* … */` comment (they nest).
fn skip_block_comment(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1).copied()) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            (c, _) => {
                if c == '\n' {
                    *line += 1;
                }
                i += 1;
            }
        }
    }
    i
}

/// Past a quoted literal starting at `open` (the quote), escapes honoured.
fn skip_quoted(chars: &[char], open: usize, quote: char, line: &mut usize) -> usize {
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '\n' => {
                *line += 1;
                i += 1;
            }
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// If a raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starts at `i`: where it ends.
fn raw_string_end(chars: &[char], i: usize, line: &mut usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '\n' {
            *line += 1;
        }
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(source: &str) -> Vec<String> {
        tokens(source)
            .into_iter()
            .filter_map(|t| t.ident().map(str::to_owned))
            .collect()
    }

    #[test]
    fn comments_strings_and_lifetimes_are_not_paths() {
        let source = r##"
            // use crate::a;
            /* crate::b /* nested */ crate::c */
            let s = "crate::d"; let r = r#"crate::e "quoted""#; let c = '"';
            fn f<'a>(x: &'a str) -> char { 'x' }
            use crate::real;
        "##;
        assert_eq!(
            idents(source),
            [
                "let", "s", "let", "r", "let", "c", "fn", "f", "x", "str", "char", "use", "crate", "real"
            ]
        );
        let lines: Vec<usize> = tokens(source)
            .iter()
            .filter(|t| t.is_ident("real"))
            .map(|t| t.line)
            .collect();
        assert_eq!(lines, [6]);
    }
}
